"""An application that uses a PKCS#11 module itself, then loads a pkcs11: signer in the same process.

Run in a fresh interpreter by tests/pkcs11/test_coexistence.py (the test process has the module loaded
already). ``python -m tests.pkcs11.coexisting_app MODE MODULE_PATH URI`` prints one JSON line:
``{"ok": true, "address": ..., "recovered": ..., "app_still_works": ...}`` or ``{"ok": false, "error": ...,
"message": ...}``. The application's user PIN is read from the environment variable named by APP_PIN_ENV.

MODE: ``python-pkcs11`` (the application's own ``pkcs11.lib(MODULE_PATH)``, a session logged in),
``other-binding`` (C_Initialize called through ctypes, as another binding such as PyKCS11 would).
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any

import pkcs11
from eth_hash.auto import keccak


def _application(mode: str, module_path: str, token_label: str) -> Any:
    """Set the module up as the application would; returns a check that its own use still works."""
    if mode == "python-pkcs11":
        lib = pkcs11.lib(module_path)
        token = lib.get_token(token_label=token_label)
        session = token.open(user_pin=os.environ[os.environ["APP_PIN_ENV"]])
        return lambda: len(session.generate_random(64)) == 8
    if mode == "other-binding":
        library = ctypes.CDLL(module_path)
        rv = library.C_Initialize(None)
        assert rv == 0, f"C_Initialize returned {rv:#x}"
        count = ctypes.c_ulong()
        return lambda: library.C_GetSlotList(ctypes.c_ubyte(1), None, ctypes.byref(count)) == 0 and count.value > 0
    raise SystemExit(f"unknown mode {mode}")


def main(mode: str, module_path: str, uri: str, token_label: str) -> dict[str, Any]:
    check = _application(mode, module_path, token_label)

    def app_works() -> bool:
        try:
            return bool(check())
        except pkcs11.PKCS11Error:  # e.g. the module was finalised under the application
            return False

    import signers

    try:
        signer = signers.load_signer(uri)
        digest = keccak(b"co-existence")
        signature = signer.sign_digest(digest)
    except signers.SignerError as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc), "app_still_works": app_works()}
    return {
        "ok": True,
        "address": signer.address,
        "recovered": signature.recover(digest),
        "app_still_works": app_works(),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
