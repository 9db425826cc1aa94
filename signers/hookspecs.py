"""The pluggy hook specifications, and their payload (``SignRequest``). Plugins implement them with
``@signers.hookimpl``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

    from .backend import Backend
    from .errors import SignerError
    from .signature import Signature
    from .signer import Signer
    from .uri import SignerURI

hookspec = pluggy.HookspecMarker("signers")
hookimpl = pluggy.HookimplMarker("signers")


@dataclass(frozen=True)
class SignRequest:
    """What a policy (before_sign) and the audit trail (after_sign) see of one signature."""

    signer: Signer
    digest: bytes
    kind: str  # digest | message | typed_data | transaction | authorization | user_operation
    payload: Any = None  # the structured input the digest was made from, when there is one
    context: Mapping[str, Any] = field(default_factory=dict)  # e.g. chain_id, entry_point, user_op_hash


class BackendFactory(Protocol):
    def __call__(self, uri: SignerURI, **options: Any) -> Backend: ...


class Register(Protocol):
    def __call__(self, scheme: str, factory: BackendFactory, description: str = "") -> None: ...


@hookspec
def register_backends(register: Register) -> None:
    """Register URI schemes: ``register("aws-kms", factory, "AWS KMS keys")``; the factory takes the parsed
    ``SignerURI`` and the options given to ``load_signer`` and returns a ``Backend``."""


@hookspec
def before_sign(request: SignRequest) -> None:
    """Policy: raise a ``PolicyViolationError`` to refuse. Runs before the backend is touched."""


@hookspec
def after_sign(request: SignRequest, signature: Signature) -> None:
    """Sees every signature before it leaves the library (audit trail, metrics). It may raise a
    ``SignerError`` (the audit trail's ``AuditTrailError`` when its record cannot be committed): the signature
    is then discarded and the caller gets the error. In async signing it runs in a worker thread."""


@hookspec
def sign_failed(request: SignRequest, error: SignerError) -> None:
    """Sees every request that reached the backend but produced no signature: a backend error, a signature
    that failed its self-check, a key that changed under an alias. Must not raise."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``signers`` command (key creation for a custody, an emulator...)."""
