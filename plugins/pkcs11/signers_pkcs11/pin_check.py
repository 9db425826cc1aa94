"""Check a user PIN when the token cannot: a login in a fresh process.

PKCS#11 login state belongs to the application (the process) and the token. When other code of the process
(the application's own python-pkcs11 session, another binding) has logged the token in, ``C_Login`` answers
CKR_USER_ALREADY_LOGGED_IN before it looks at the PIN, so a signer loaded with a wrong PIN would sign on
that login. Logging the application out to log in again would break the other code's sessions (and a wrong
PIN would leave it logged out), and PKCS#11 has no "verify PIN" call (C_SetPIN with old = new writes to the
token and is refused or audited by some HSMs). A fresh process is a fresh application: its ``C_Login``
checks the PIN for real and leaves this process's login alone. It costs one interpreter start (~0.1-0.3 s), only
on the first load against a token someone else logged in.

The PIN goes to the child on its standard input, never in its arguments or environment; the child answers
``ok`` or the name of the python-pkcs11 exception, never the PIN.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the child runs this file as a script and imports python-pkcs11 only: a fast start
    from signers.errors import BackendUnavailableError

#: seconds the check may take (interpreter start, module load, one login)
TIMEOUT = 60.0


def verify_pin(module_path: str, serial: bytes, label: str, pin: str, pin_source: str | None) -> None:
    """Raise the login error for ``pin`` on the token (by serial) if a fresh process cannot log in with it."""
    from pkcs11 import exceptions as p11x

    from .errors import login_error

    try:
        result = subprocess.run(
            # the file as a script (-P: its folder is not put on sys.path), not -m: that would import signers
            [sys.executable, "-P", __file__, module_path, serial.hex()],
            input=pin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _unverified(label, f"{type(exc).__name__}") from None
    answer = result.stdout.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
    if answer[0] == "ok":
        return
    error = getattr(p11x, answer[0], None)
    if isinstance(error, type) and issubclass(error, p11x.PKCS11Error):
        raise login_error(error(), label, pin_source) from None
    raise _unverified(label, answer[0][:200])


def _unverified(label: str, why: str) -> BackendUnavailableError:
    from signers.errors import BackendUnavailableError

    return BackendUnavailableError(
        f"pkcs11 token {label!r} is already logged in by other code of this process, so the token did not "
        f"check this signer's PIN, and checking it in a separate process failed ({why}); nothing was loaded",
        hint="make sure this interpreter can start a child process that loads the module (python -P "
        "signers_pkcs11/pin_check.py), or load the signer before other code logs in to the token",
    )


def _main(module_path: str, serial_hex: str) -> str:
    import pkcs11
    from pkcs11 import exceptions as p11x

    pin = sys.stdin.read()
    try:
        lib = pkcs11.lib(module_path)
        serial = bytes.fromhex(serial_hex)
        tokens = [t for t in lib.get_tokens() if t.serial == serial]
        if len(tokens) != 1:
            return "TokenNotPresent"
        with tokens[0].open(user_pin=pin):
            return "ok"
    except p11x.PKCS11Error as exc:
        return type(exc).__name__


if __name__ == "__main__":
    print(_main(sys.argv[1], sys.argv[2]))
