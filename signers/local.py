"""The local-key backend: a private key in process memory. For development and tests only.

    local:env:NAME                                 hex private key in an environment variable
    local:keystore:PATH?password-source=env:NAME   an eth-account (Web3 Secret Storage) keystore file

Signatures are RFC 6979 deterministic (libsecp256k1), hence byte-identical to eth-account's LocalAccount.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import coincurve

from .backend import Backend
from .custody import PROCESS_MEMORY, CustodyReport
from .errors import AuthenticationError, ConfigurationError, KeyNotFoundError
from .hookspecs import Register, hookimpl
from .keys import PublicKey, parse_private_key
from .secrets import read_secret
from .uri import NO_SECRET_HINT, SignerURI


class LocalBackend(Backend):
    signature_format = "rs"

    def __init__(self, private_key: bytes, description: str, keystore: tuple[Path, str | None] | None = None) -> None:
        self._keystore = keystore  # (file, password source) of a keystore key: where create_like puts another
        try:
            self._key = coincurve.PrivateKey(private_key)
        except (ValueError, TypeError):
            raise ConfigurationError(f"{description}: not a valid secp256k1 private key") from None
        self._description = description

    def public_key(self) -> PublicKey:
        return PublicKey(self._key.public_key.format(compressed=False))

    def sign(self, digest: bytes) -> bytes:
        return self._key.sign_recoverable(digest, hasher=None)[:64]

    def describe(self) -> str:
        return self._description

    def create_like(self, label: str | None = None) -> str:
        """For a keystore key: a new random key in a keystore file beside it, encrypted with the same password
        source. A key in an environment variable has no place to put another one (UnsupportedOperationError)."""
        if self._keystore is None:
            return super().create_like(label)
        path, password_source = self._keystore
        target = path.with_name(f"{label or path.stem + '-' + secrets.token_hex(4)}.json")
        if target.exists():
            raise ConfigurationError("local: a keystore file by that label already exists", hint="choose another label")
        password = read_secret(password_source, "password")
        from eth_account import Account  # keystores only: eth-account costs ~0.4 s to import

        keystore = Account.encrypt(secrets.token_bytes(32), password.reveal())
        target.write_text(json.dumps(keystore))
        target.chmod(0o600)
        return f"local:keystore:{target}" + (f"?password-source={password_source}" if password_source else "")

    def custody(self) -> CustodyReport:
        where = "a keystore file, decrypted into" if self._keystore else "an environment variable, read into"
        return CustodyReport(
            backend=self._description,
            kind="software",
            custody="process memory",
            address=self.public_key().address,
            extractable=True,
            generated_in_hardware=False,
            state="enabled",
            warnings=(PROCESS_MEMORY,),
            details={"source": f"{where} process memory"},
        )


def from_uri(uri: SignerURI, **options: Any) -> LocalBackend:
    kind, _, ref = uri.target.partition(":")
    if kind == "env" and ref:
        uri.refuse_unknown(set())
        value = os.environ.get(ref)
        if value is None:  # the name is not quoted: a key pasted as local:env:<hex> would be echoed back
            raise KeyNotFoundError(
                "local:env:NAME: the environment variable the URI names is not set",
                hint="export NAME=0x<64 hex digits> (development and tests only); NAME is the variable's name, "
                "never the key itself",
            )
        return LocalBackend(parse_private_key(value, f"local:env:{ref}"), f"local:env:{ref}")
    if kind == "keystore" and ref:
        uri.refuse_unknown({"password-source"})
        where = f"local:keystore:{ref}"
        try:
            keystore = json.loads(Path(ref).read_text())
        except OSError as exc:
            # the path is not quoted until the file is found: a key pasted as the path would be echoed back
            raise KeyNotFoundError(
                f"local:keystore:PATH: cannot read the file the URI names ({exc.strerror})"
            ) from None
        except ValueError:
            raise ConfigurationError(f"{where}: not a JSON keystore") from None
        password = read_secret(uri.option("password-source"), "password")
        try:
            from eth_account import Account

            key = bytes(Account.decrypt(keystore, password.reveal()))
        except ValueError:
            raise AuthenticationError(f"{where}: the keystore password is wrong (or the file is corrupt)") from None
        except (KeyError, TypeError, AttributeError):
            raise ConfigurationError(
                f"{where}: not a Web3 Secret Storage keystore (a field is missing)",
                hint="use a keystore made by eth-account, geth or `signers` key tools",
            ) from None
        return LocalBackend(key, where, (Path(ref), uri.option("password-source")))
    raise ConfigurationError(
        "not a local signer URI: the text after local: must be env:NAME or keystore:PATH",
        hint="use local:env:NAME or local:keystore:PATH?password-source=env:NAME; " + NO_SECRET_HINT,
    )


@hookimpl
def register_backends(register: Register) -> None:
    register("local", from_uri, "a private key in process memory (development and tests only)")
