"""A process whose application code already uses the PKCS#11 module (issue 13 item 8, issue 15 item 8).

Each case runs in a fresh interpreter (tests/pkcs11/coexisting_app.py): in this test process the module is
loaded and logged in by signers already. The application sets the module up first (python-pkcs11 under a
symlinked or the real path, or C_Initialize through another binding), then loads a pkcs11: signer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import signers
from tests.fixtures.softhsm import SoftHSMToken

ROOT = Path(__file__).resolve().parents[2]


def _run_app(mode: str, module_path: str, uri: str, softhsm: SoftHSMToken, **env: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.pkcs11.coexisting_app", mode, module_path, uri, softhsm.label],
        cwd=ROOT,
        env={**os.environ, "APP_PIN_ENV": softhsm.pin_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def symlinked_module(softhsm: SoftHSMToken, tmp_path: Path) -> str:
    link = tmp_path / "vendor" / "libpkcs11-link.so"
    link.parent.mkdir()
    link.symlink_to(softhsm.module)
    return str(link)


def _signed(outcome: dict[str, Any], uri: str) -> None:
    assert outcome["ok"], outcome
    assert outcome["recovered"] == outcome["address"] == signers.load_signer(uri).address
    assert outcome["app_still_works"], "the application's own use of the module broke"


def test_module_opened_by_the_application_under_a_symlink(
    softhsm: SoftHSMToken, pkcs11_key_uri: str, symlinked_module: str
) -> None:
    for uri in (pkcs11_key_uri, f"{pkcs11_key_uri}&module-path={symlinked_module}"):
        _signed(_run_app("python-pkcs11", symlinked_module, uri, softhsm), pkcs11_key_uri)


def test_module_opened_by_the_application_under_its_real_path(softhsm: SoftHSMToken, pkcs11_key_uri: str) -> None:
    _signed(_run_app("python-pkcs11", os.path.realpath(softhsm.module), pkcs11_key_uri, softhsm), pkcs11_key_uri)


def test_module_initialised_by_another_binding(
    softhsm: SoftHSMToken, pkcs11_key_uri: str, symlinked_module: str
) -> None:
    _signed(_run_app("other-binding", symlinked_module, pkcs11_key_uri, softhsm), pkcs11_key_uri)


def test_a_wrong_pin_is_refused_when_the_application_is_logged_in(softhsm: SoftHSMToken, pkcs11_key_uri: str) -> None:
    """C_Login answers CKR_USER_ALREADY_LOGGED_IN before it looks at the PIN: the PIN is checked another way."""
    wrong = pkcs11_key_uri.replace(f"pin-source={softhsm.pin_source}", "pin-source=env:COEXIST_WRONG_PIN")
    assert wrong != pkcs11_key_uri
    real = os.path.realpath(softhsm.module)
    outcome = _run_app("python-pkcs11", real, wrong, softhsm, COEXIST_WRONG_PIN="not-the-pin-4711")
    assert not outcome["ok"], outcome
    assert outcome["error"] == "AuthenticationError" and "wrong PIN" in outcome["message"], outcome
    assert "not-the-pin-4711" not in outcome["message"]
    assert outcome["app_still_works"], "checking the PIN logged the application out"


def test_a_missing_token_does_not_re_initialise_the_applications_module(
    softhsm: SoftHSMToken, pkcs11_key_uri: str
) -> None:
    """Re-initialising (C_Finalize) to look for a token created since start-up would end the application's
    sessions: a shared module is never finalised."""
    absent = pkcs11_key_uri.replace(f"token={softhsm.label}", "token=not-a-token")
    outcome = _run_app("python-pkcs11", os.path.realpath(softhsm.module), absent, softhsm)
    assert not outcome["ok"] and outcome["error"] == "TokenNotFoundError", outcome
    assert "never re-initialises" in outcome["message"]
    assert outcome["app_still_works"], "the application's session was ended by a re-initialisation"


def test_the_fresh_process_pin_check(softhsm: SoftHSMToken, tmp_path: Path) -> None:
    from signers_pkcs11.module import get_module
    from signers_pkcs11.pin_check import verify_pin
    from signers_pkcs11.uri import Pkcs11URI

    module = get_module(softhsm.module)
    serial = module.find_token(Pkcs11URI(module_path=softhsm.module, token=softhsm.label)).serial
    pin = os.environ[softhsm.pin_env]
    verify_pin(module.path, serial, softhsm.label, pin, softhsm.pin_source)  # the right PIN: no error
    with pytest.raises(signers.AuthenticationError, match="wrong PIN") as wrong:
        verify_pin(module.path, serial, softhsm.label, "0000-wrong", softhsm.pin_source)
    assert "0000-wrong" not in str(wrong.value)
    not_a_module = tmp_path / "not-a-module.so"
    not_a_module.write_text("")
    with pytest.raises(signers.BackendUnavailableError) as unusable:  # the check could not run: fail closed
        verify_pin(str(not_a_module), serial, softhsm.label, pin, softhsm.pin_source)
    assert pin not in str(unusable.value)
