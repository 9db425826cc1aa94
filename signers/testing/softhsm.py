"""SoftHSM2 for tests: a private configuration (never the system one) and tokens on it.

    with private_token(directory, "label", "PIN_VARIABLE") as token:
        uri = token.generate_key()          # a pkcs11: URI of a key generated on the device

    python -m signers.testing.softhsm   the repository's long-lived dev token "signers-dev" under
                                        <state>/softhsm (made if missing); prints the environment to use

``SOFTHSM2_CONF`` points at a config whose token directory is inside the given folder. For ``private_token``
the PINs are random and live only in the environment variable named (URIs say ``pin-source=env:...``), and
the folder is removed at the end. The dev token keeps its PIN in ``<state>/softhsm/user.pin`` (mode 0600),
named by ``pin-source=file:...``. Generating keys needs signers-pkcs11 (``pip install signers-pkcs11``).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import MissingDependency, state_dir

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


INSTALL = "apt-get install -y softhsm2 (Debian/Ubuntu), dnf install softhsm (Fedora), brew install softhsm (macOS)"


class SoftHSMSetupError(RuntimeError):
    """A token could not be made; the message says why."""


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
    raise MissingDependency(f"libsofthsm2.so (SoftHSM2) is not installed; install it with: {INSTALL}")


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
        "# made by signers.testing.softhsm: a private SoftHSM configuration, never the system one\n"
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
        raise MissingDependency(f"{argv[0]} (SoftHSM2) is not installed; install it with: {INSTALL}")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shown = argv[:2] if secret else argv  # never echo PINs given as arguments
        raise SoftHSMSetupError(f"{' '.join(shown)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


@dataclass
class PrivateToken:
    """One initialised token of a private SoftHSM home, and helpers to put keys on it."""

    home: SoftHSMHome
    label: str
    pin_env: str
    so_pin: str = field(repr=False)
    _count: int = 0

    @property
    def module(self) -> str:
        return self.home.module

    @property
    def pin_source(self) -> str:
        return f"env:{self.pin_env}"

    def uri(self, object: str | None = None, id: bytes | None = None, pin_source: str | None = None) -> str:
        """A pkcs11: URI on this token; the module comes from PKCS11_MODULE (set by the fixture)."""
        path = [f"token={self.label}"]
        if object is not None:
            path.append(f"object={object}")
        if id is not None:
            path.append("id=" + "".join(f"%{b:02X}" for b in id))
        return "pkcs11:" + ";".join(path) + f"?pin-source={pin_source or self.pin_source}"

    def new_label(self, prefix: str = "key") -> str:
        self._count += 1
        return f"{prefix}-{self._count}"

    @contextmanager
    def session(self) -> Iterator[Any]:
        """The process's shared, logged-in python-pkcs11 session on this token, under its module lock
        (the only safe way to touch the token from a test while signers run)."""
        from signers_pkcs11.module import get_module
        from signers_pkcs11.uri import Pkcs11URI

        module = get_module(self.module)
        with module.lock:
            token = module.find_token(Pkcs11URI(module_path=self.module, token=self.label))
            yield module.token_session(token).get(self.pin_source)

    def generate_key(self, label: str | None = None, prefix: str = "key") -> str:
        """A secp256k1 key generated on the device (sign-only, never extractable); returns its URI."""
        from signers_pkcs11 import keys

        label = label or self.new_label(prefix)
        with self.session() as session:
            _, key_id = keys.generate_key(session, label, None, f"token {self.label!r}")
        return self.uri(object=label, id=key_id)

    def import_key(self, private_key: bytes, label: str | None = None) -> str:
        """An existing private key stored on the token (reported as once extractable); returns its URI."""
        from signers_pkcs11 import keys

        label = label or self.new_label("imported")
        with self.session() as session:
            _, key_id = keys.import_key(session, label, None, private_key, f"token {self.label!r}")
        return self.uri(object=label, id=key_id)

    def environ(self) -> dict[str, str]:
        """The variables a child process (CLI, worker pool) needs to reach this token."""
        return {**self.home.environ(), self.pin_env: os.environ[self.pin_env]}


SoftHSMToken = PrivateToken  # the fixture's type, under the name the tests know


@contextmanager
def private_token(directory: Path, label: str, pin_env: str, module: str | None = None) -> Iterator[PrivateToken]:
    """A fresh token ``label`` in ``directory`` for the duration of the block (see the module docstring)."""
    shutil.rmtree(directory, ignore_errors=True)  # leftovers of a killed run go
    home = prepare(directory, module)
    saved = {name: os.environ.get(name) for name in (*home.environ(), pin_env)}
    pin, so_pin = secrets.token_hex(8), secrets.token_hex(8)
    os.environ.update(home.environ())
    os.environ[pin_env] = pin
    try:
        home.init_token(label, pin, so_pin)
        from signers_pkcs11 import module as modules

        if os.path.realpath(home.module) in modules._modules:  # loaded earlier with another config: read ours
            modules.get_module(home.module).reinitialize()
        yield PrivateToken(home, label, pin_env, so_pin)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    state = state_dir("softhsm")
    try:
        home = prepare(state)
        pin = read_or_make_pin(state / "user.pin")
        so_pin = read_or_make_pin(state / "so.pin")
        made = home.init_token(DEV_TOKEN, pin, so_pin)
    except (SoftHSMSetupError, MissingDependency) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"softhsm: token {DEV_TOKEN!r} {'created' if made else 'ready'} in {home.token_dir}", file=sys.stderr)
    for name, value in home.environ().items():
        print(f"export {name}={value}")
    pin_file = state / "user.pin"
    print(f"export PKCS11_PIN_SOURCE=file:{pin_file}")
    print(f"# a key: signers pkcs11 keygen --token {DEV_TOKEN} --label my-key")
    print(f"# its URI: pkcs11:token={DEV_TOKEN};object=my-key?pin-source=file:{pin_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
