"""The Smart Sessions scope check as seen by the plugin manager: a built-in plugin on every Signer that imports
``signers.aa`` only when there is something to check.

The check itself and its registry of granted sessions live in ``signers.aa.scope``. A process that never
imported it has registered no session (nor revoked one), so a request that is not a UserOperation has no
session key to refuse and passes without loading the AA layer; a UserOperation always goes through the full
check (an op that looks like a session op with an unknown permission is refused there).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from .hookspecs import SignRequest, hookimpl

if TYPE_CHECKING:
    from .signature import Signature

_MODULE = "signers.aa.scope"


def _scope() -> Any:
    # sys.modules first: import_module costs a microsecond or two on every signed op once the module is loaded
    return sys.modules.get(_MODULE) or importlib.import_module(_MODULE)


class SessionScopeHook:
    """Registered as "aa-scope"; forwards to ``signers.aa.scope.SCOPE_CHECK`` (``target``)."""

    @property
    def target(self) -> Any:
        """The SessionScopeCheck this hook forwards to (importing the AA layer)."""
        return _scope().SCOPE_CHECK

    @hookimpl
    def before_sign(self, request: SignRequest) -> None:
        module = sys.modules.get(_MODULE)
        if module is None:
            if request.kind != "user_operation":
                return  # nothing imported the session registry: no session key exists in this process
            module = _scope()
        module.SCOPE_CHECK.before_sign(request)

    @hookimpl
    def after_sign(self, request: SignRequest, signature: Signature) -> None:
        if request.kind == "user_operation":
            _scope().SCOPE_CHECK.after_sign(request, signature)


SCOPE_CHECK = SessionScopeHook()
