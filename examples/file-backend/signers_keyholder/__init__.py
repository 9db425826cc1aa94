"""keyholder: URIs, a key held by a separate process behind a Unix socket (see holder.py for the other side).

    keyholder:/run/keyholder/holder.sock

The protocol is one line each way: ``pubkey`` -> the 65-byte uncompressed point in hex; ``sign <64 hex>`` ->
the 64-byte r||s in hex; ``error <reason>`` when the holder refuses.
"""

from __future__ import annotations

import socket
from typing import Any

import signers
from signers import Backend, PublicKey
from signers.errors import BackendUnavailableError, ConfigurationError


class KeyholderBackend(Backend):
    signature_format = "rs"

    def __init__(self, path: str) -> None:
        if not path.startswith("/"):
            raise ConfigurationError(
                "keyholder: the URI must name the holder's socket by absolute path",
                hint="use keyholder:/path/to/holder.sock",
            )
        self.path = path

    def _ask(self, line: str) -> bytes:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(10)
                conn.connect(self.path)
                conn.sendall(line.encode() + b"\n")
                answer = conn.makefile("rb").readline().decode().strip()
        except OSError as exc:
            raise BackendUnavailableError(
                f"{self.describe()}: the key holder does not answer ({exc.strerror})",
                hint="start it: python -m signers_keyholder.holder KEYFILE SOCKET",
            ) from None
        kind, _, value = answer.partition(" ")
        if kind != "ok":
            raise BackendUnavailableError(f"{self.describe()}: the key holder refused ({value or 'no answer'})")
        return bytes.fromhex(value)

    def public_key(self) -> PublicKey:
        return PublicKey(self._ask("pubkey"))

    def sign(self, digest: bytes) -> bytes:  # exactly these 32 bytes; the core checked the length
        return self._ask("sign " + digest.hex())

    def describe(self) -> str:
        return f"keyholder:{self.path}"

    def custody(self) -> dict[str, Any]:
        return {"backend": self.describe(), "custody": "a separate process reading a key file", "extractable": True}


@signers.hookimpl
def register_backends(register: Any) -> None:
    register("keyholder", lambda uri, **options: KeyholderBackend(uri.target), "a key held by another process")
