"""A throwaway private SoftHSM token for one process: the test fixtures, the demo and the benchmarks.

Unlike tokens.py (standard library only, run by softhsm/install), this needs signers-pkcs11 installed.

    with private_token(directory, "label", "PIN_VARIABLE") as token:
        uri = token.generate_key()          # a pkcs11: URI of a key generated on the device

SOFTHSM2_CONF, PKCS11_MODULE and the PIN variable are set for this process while the block runs and put back
afterwards; the directory (config and token files) is removed. The PIN is random and lives only in the
environment variable, so URIs say ``pin-source=env:...``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tokens import SoftHSMHome, prepare


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
