"""``signers.lazy.lazy_exports``, the one PEP 562 helper of the core and the plugins: a name's module is imported
on first use, a renamed export (``module:attribute``) resolves to its attribute, the value is then set on the
package, and an unknown name is an AttributeError. Run in a fresh interpreter: this process imported all long ago."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import signers
import signers.audit


def test_first_use_imports_the_module_and_sets_the_name() -> None:
    code = (
        "import json, sys\n"
        "import signers.audit as audit\n"
        "before = 'signers.audit.schema' in sys.modules, 'SCHEMA_VERSION' in vars(audit)\n"
        "version = audit.SCHEMA_VERSION\n"
        "from signers.audit import schema\n"
        "after = 'signers.audit.schema' in sys.modules, vars(audit).get('SCHEMA_VERSION') == schema.VERSION\n"
        "print(json.dumps([before, after, version]))\n"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter, our own code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    before, after, version = json.loads(out.stdout)
    assert before == [False, False]
    assert after == [True, True]
    assert isinstance(version, int) and version >= 1


def test_exports_resolve_to_their_modules_names() -> None:
    from signers.audit.schema import VERSION
    from signers.audit.trail import AuditTrail
    from signers.signer import Signer

    assert signers.audit.SCHEMA_VERSION == VERSION
    assert signers.audit.AuditTrail is AuditTrail
    assert signers.Signer is Signer


@pytest.mark.parametrize(("module", "name"), [(signers, "Nope"), (signers.audit, "VERSION")])
def test_an_unknown_name_is_an_attribute_error(module: object, name: str) -> None:
    with pytest.raises(AttributeError, match=f"has no attribute {name!r}"):
        getattr(module, name)
