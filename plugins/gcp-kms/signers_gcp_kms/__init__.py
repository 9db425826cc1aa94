"""signers-gcp-kms: Ethereum signing with secp256k1 keys in Google Cloud KMS, and a Cloud KMS emulator.

    gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N
    gcp-kms://...?endpoint=127.0.0.1:9010        a local emulator (python -m signers_gcp_kms.emulator)
    gcp-kms://...?timeout=5&deadline=15          seconds per attempt / for all attempts of one call

Credentials come from Application Default Credentials; every response passes Google's CRC32C and name
checks; calls have bounded deadlines and retries. google-cloud-kms is imported on first use only, so that
every `signers` command does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signers.hookspecs import Register, hookimpl

if TYPE_CHECKING:
    import click

    from signers.uri import SignerURI

    from .backend import GcpKmsBackend
    from .connection import CallPolicy
    from .uri import version_uri

__all__ = ["CallPolicy", "GcpKmsBackend", "from_uri", "version_uri"]
_LAZY = {"GcpKmsBackend": ".backend", "CallPolicy": ".connection", "version_uri": ".uri"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def from_uri(uri: SignerURI, **options: Any) -> GcpKmsBackend:
    from .uri import from_uri as factory

    return factory(uri, **options)


@hookimpl
def register_backends(register: Register) -> None:
    register("gcp-kms", from_uri, "secp256k1 key versions in Google Cloud KMS (HSM)")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import gcp_kms

    cli.add_command(gcp_kms)
