"""A private SoftHSM2 configuration and token for this repository (standard library only).

    softhsm/install            installs SoftHSM2 if missing, then runs this file
    python softhsm/tokens.py   creates .state/softhsm/{softhsm2.conf,tokens/,user.pin} and the token
                               "signers-dev" if missing, and prints the environment to use

The system-wide SoftHSM configuration (/etc/softhsm) is never read or written: ``SOFTHSM2_CONF`` points at a
config whose token directory is inside the repository's ignored ``.state/`` folder. The user PIN is made
once at random and kept in ``.state/softhsm/user.pin`` (mode 0600); URIs name it with
``pin-source=file:...``, so it is never printed. The test fixtures (tests/fixtures/softhsm.py) use the same
functions with their own directory per test run.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state" / "softhsm"
DEV_TOKEN = "signers-dev"

# Where distributions put the module; the first that exists wins (PKCS11_MODULE overrides all of them).
MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)


class SoftHSMSetupError(RuntimeError):
    """SoftHSM is missing or a token could not be made; the message says what to run."""


def find_module() -> str:
    """The libsofthsm2.so path: $PKCS11_MODULE when it names SoftHSM, else the first known location."""
    env = os.environ.get("PKCS11_MODULE", "")
    if env and "softhsm" in os.path.basename(env) and os.path.exists(env):
        return env
    for path in MODULE_CANDIDATES:
        if os.path.exists(path):
            return path
    found = sorted(glob.glob("/usr/lib*/**/libsofthsm2.so", recursive=True))
    if found:
        return found[0]
    raise SoftHSMSetupError("libsofthsm2.so not found: run softhsm/install (apt-get install softhsm2)")


@dataclass(frozen=True)
class SoftHSMHome:
    """One private SoftHSM configuration: its config file, token directory and module."""

    directory: Path
    module: str

    @property
    def conf(self) -> Path:
        return self.directory / "softhsm2.conf"

    @property
    def token_dir(self) -> Path:
        return self.directory / "tokens"

    def environ(self) -> dict[str, str]:
        """The variables a process needs to see this configuration's tokens."""
        return {"SOFTHSM2_CONF": str(self.conf), "PKCS11_MODULE": self.module}

    def tool_env(self) -> dict[str, str]:
        return {**os.environ, **self.environ()}

    def token_labels(self) -> list[str]:
        """Labels of the initialised tokens (from softhsm2-util --show-slots)."""
        out = _run(["softhsm2-util", "--show-slots"], self.tool_env()).stdout
        labels = []
        for line in out.splitlines():
            key, _, value = line.strip().partition(":")
            if key == "Label" and value.strip():
                labels.append(value.strip())
        return labels

    def init_token(self, label: str, pin: str, so_pin: str) -> bool:
        """Initialise a token named ``label`` unless it exists; True when one was made.

        softhsm2-util takes the PINs as arguments (it has no other non-interactive way): they are visible to
        this machine's process list for the few milliseconds the tool runs. Only test and dev tokens are made
        here; a production HSM is initialised with its vendor's tools.
        """
        if label in self.token_labels():
            return False
        _run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin],
            self.tool_env(),
            secret=True,
        )
        return True


def prepare(directory: Path, module: str | None = None) -> SoftHSMHome:
    """Create (or keep) ``directory`` with a softhsm2.conf whose token dir is inside it."""
    home = SoftHSMHome(directory.resolve(), module or find_module())
    home.token_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(home.directory, 0o700)
    conf = (
        "# made by softhsm/tokens.py: a private SoftHSM configuration, never the system one\n"
        f"directories.tokendir = {home.token_dir}/\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    if not home.conf.exists() or home.conf.read_text() != conf:
        home.conf.write_text(conf)
    return home


def read_or_make_pin(path: Path) -> str:
    """The PIN kept in ``path``, made at random (mode 0600) the first time."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(8) + "\n")
    return path.read_text().strip()


def _run(argv: list[str], env: dict[str, str], secret: bool = False) -> subprocess.CompletedProcess[str]:
    if shutil.which(argv[0]) is None:
        raise SoftHSMSetupError(f"{argv[0]} not found: run softhsm/install (apt-get install softhsm2)")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shown = argv[:2] if secret else argv  # never echo PINs given as arguments
        raise SoftHSMSetupError(f"{' '.join(shown)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def main() -> int:
    try:
        home = prepare(STATE)
        pin = read_or_make_pin(STATE / "user.pin")
        so_pin = read_or_make_pin(STATE / "so.pin")
        made = home.init_token(DEV_TOKEN, pin, so_pin)
    except SoftHSMSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"softhsm: token {DEV_TOKEN!r} {'created' if made else 'ready'} in {home.token_dir}", file=sys.stderr)
    for name, value in home.environ().items():
        print(f"export {name}={value}")
    pin_file = STATE / "user.pin"
    print(f"export PKCS11_PIN_SOURCE=file:{pin_file}")
    print(f"# a key: signers pkcs11 keygen --token {DEV_TOKEN} --label my-key")
    print(f"# its URI: pkcs11:token={DEV_TOKEN};object=my-key?pin-source=file:{pin_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
