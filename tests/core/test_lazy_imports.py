"""``import signers`` and ``load_signer(uri)`` import only what they use (issue 13 item 2): no cloud SDK, no
PKCS#11 library unless the URI is a pkcs11: one, no signers.aa, none of eth-account's eth-keyfile / py_ecc.
Each check runs in a fresh interpreter: this test process has imported everything long ago."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("boto3", "botocore", "google", "grpc", "pkcs11", "signers.aa", "py_ecc", "eth_keyfile", "eth_account")
KEY = "0x" + "4c" * 32


def _modules(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded after ``code`` runs in a new interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(  # noqa: S603 (our own interpreter, our own code)
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, timeout=120
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def _heavy(modules: set[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        m for m in modules if m.split(".")[0] in HEAVY or m.startswith("signers.aa") if m.split(".")[0] not in allowed
    )


def test_import_signers_is_light() -> None:
    modules = _modules("import signers")
    assert _heavy(modules) == []
    assert "signers.signer" not in modules and "pluggy" not in modules  # PEP 562: the signer comes on first use
    assert "eth_utils" not in modules and "eth_abi" not in modules
    assert {"signers.signature", "signers.keys", "signers.errors"} <= modules  # what it does import is there


def test_a_local_key_loads_no_other_backend() -> None:
    env = {**os.environ, "SIGNERS_TEST_LAZY_KEY": KEY}
    modules = _modules(
        "import os, signers\n"
        "signer = signers.load_signer('local:env:SIGNERS_TEST_LAZY_KEY')\n"
        "digest = os.urandom(32)\n"
        "assert signer.sign_digest(digest).recover(digest) == signer.address",
        env,
    )
    assert _heavy(modules) == []
    others = ("signers_pkcs11", "signers_aws_kms", "signers_gcp_kms", "signers_server.client")
    assert not any(m.startswith(others) for m in modules)


def test_a_pkcs11_key_loads_neither_cloud_sdk_nor_the_aa_layer(pkcs11_key_uri: str) -> None:
    modules = _modules(
        "import os, signers\n"
        f"signer = signers.load_signer({pkcs11_key_uri!r})\n"
        "digest = os.urandom(32)\n"
        "assert signer.sign_digest(digest).recover(digest) == signer.address",
        dict(os.environ),
    )
    assert "signers_pkcs11" in modules and "pkcs11" in modules  # the one plugin it needs
    assert _heavy(modules, allowed=("pkcs11",)) == []
    # signers_server.plugin (it adds `signers serve`) is tiny and loads with the manager; the client and app do not
    assert not any(
        m.startswith(("signers_aws_kms", "signers_gcp_kms", "signers_server."))
        for m in modules - {"signers_server.plugin"}
    )


def test_the_scope_check_still_runs_on_a_lazily_loaded_signer() -> None:
    # the built-in "aa-scope" plugin is registered without importing signers.aa, and imports it for a UserOperation
    env = {**os.environ, "SIGNERS_TEST_LAZY_KEY": KEY}
    modules = _modules(
        "import signers\n"
        "from signers.user_operation import UserOperation\n"
        "signer = signers.load_signer('local:env:SIGNERS_TEST_LAZY_KEY')\n"
        "assert signer.plugin_manager.get_plugin('aa-scope') is not None\n"
        "op = UserOperation(sender='0x' + '11' * 20, nonce=0)\n"
        "signer.sign_user_operation(op, '0x0000000071727De22E5E9d8BAf0edAc6f37da032', 31337)",
        env,
    )
    assert "signers.aa.scope" in modules
