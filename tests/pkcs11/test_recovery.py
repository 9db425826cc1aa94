"""A session lost under a signer (logout, library re-initialised or finalized) is reopened transparently, and
the PIN is read again from its source when it is needed."""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

import pkcs11
import pytest
from eth_hash.auto import keccak
from signers_pkcs11.module import get_module

import signers
from signers import AuthenticationError, Signer
from tests.fixtures.softhsm import SoftHSMToken


def _valid(signer: Signer, text: bytes) -> bool:
    digest = keccak(text)
    return signer.sign_digest(digest).recover(digest) == signer.address


def _c_call(module_path: str, name: str, *args: int | None) -> int:
    """Call the module directly, as other code of the process could (same library instance: dlopen)."""
    function = getattr(ctypes.CDLL(module_path), name)
    function.argtypes = [ctypes.c_ulong] if args and args[0] is not None else [ctypes.c_void_p]
    function.restype = ctypes.c_ulong
    return int(function(*args))


def _shared_session_handle(softhsm: SoftHSMToken) -> int:
    with softhsm.session() as session:
        return int(session.handle)


def test_logout_under_the_signer(softhsm: SoftHSMToken, caplog: pytest.LogCaptureFixture) -> None:
    signer = signers.load_signer(softhsm.generate_key())
    assert _valid(signer, b"before")
    assert _c_call(softhsm.module, "C_Logout", _shared_session_handle(softhsm)) == 0  # CKR_OK
    caplog.set_level(logging.WARNING, logger="signers.pkcs11")
    assert _valid(signer, b"after logout")
    # SoftHSM hides private objects once logged out: the key handle is reported invalid
    assert "reopening the session" in caplog.text
    assert os.environ[softhsm.pin_env] not in caplog.text


def test_session_closed_under_the_signer(softhsm: SoftHSMToken) -> None:
    signer = signers.load_signer(softhsm.generate_key())
    assert _valid(signer, b"before")
    with softhsm.session() as session:
        session.close()  # python-pkcs11: C_Logout + C_CloseSession
    assert _valid(signer, b"after close")


def test_library_reinitialised_under_the_signer(softhsm: SoftHSMToken) -> None:
    signer = signers.load_signer(softhsm.generate_key())
    other = signers.load_signer(softhsm.generate_key())
    assert _valid(signer, b"before")
    with get_module(softhsm.module).lock:  # other code re-initialises python-pkcs11's lib object
        pkcs11.lib(get_module(softhsm.module).path).reinitialize()
    assert _valid(signer, b"after reinit") and _valid(other, b"after reinit")


@pytest.mark.parametrize("how", ["python-pkcs11", "C_Finalize"])
def test_library_finalized_under_the_signer(softhsm: SoftHSMToken, how: str) -> None:
    signer = signers.load_signer(softhsm.generate_key())
    module = get_module(softhsm.module)
    assert _valid(signer, b"before")
    with module.lock:
        if how == "python-pkcs11":
            module.lib.finalize()
        else:  # behind python-pkcs11's back: its own flag still says initialised
            assert _c_call(module.path, "C_Finalize", None) == 0
    assert _valid(signer, b"after finalize")


def test_pin_is_read_again_from_its_source(softhsm: SoftHSMToken, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(os.environ[softhsm.pin_env] + "\n")
    uri = softhsm.generate_key().split("?")[0] + f"?pin-source=file:{pin_file}"
    with softhsm.session() as session:  # log the whole process out, so that the next login is this signer's
        session.close()
    signer = signers.load_signer(uri)
    assert _valid(signer, b"with the file's PIN")

    pin_file.write_text("not-the-pin\n")  # the source now holds a wrong PIN
    assert _c_call(softhsm.module, "C_Logout", _shared_session_handle(softhsm)) == 0
    with pytest.raises(AuthenticationError) as info:
        signer.sign_digest(keccak(b"needs a new login"))
    assert "wrong PIN" in str(info.value) and f"file:{pin_file}" in str(info.value)
    assert "not-the-pin" not in str(info.value)

    pin_file.write_text(os.environ[softhsm.pin_env])  # fixed: read again at the next login
    assert _valid(signer, b"with the fixed file")


def test_a_replaced_key_is_not_used(softhsm: SoftHSMToken) -> None:
    """After a reopen the key is found again by label; if it is now another key, signing refuses."""
    label = softhsm.new_label("replaced")
    signer = signers.load_signer(softhsm.generate_key(label).split(";id=")[0] + f"?pin-source={softhsm.pin_source}")
    with softhsm.session() as session:
        for obj in session.get_objects({pkcs11.Attribute.LABEL: label}):
            obj.destroy()
    softhsm.generate_key(label)
    with softhsm.session() as session:
        session.close()
    with pytest.raises(signers.KeyChangedError, match="is now another key"):
        signer.sign_digest(keccak(b"x"))
