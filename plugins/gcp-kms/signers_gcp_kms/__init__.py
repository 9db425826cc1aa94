"""signers-gcp-kms: Ethereum signing with secp256k1 keys in Google Cloud KMS, and a Cloud KMS emulator.

    gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N
    gcp-kms://...?endpoint=127.0.0.1:9010        a local emulator (python -m signers_gcp_kms.emulator)

Credentials come from Application Default Credentials; every response passes Google's CRC32C and name
checks; calls have bounded deadlines and retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signers.hookspecs import Register, hookimpl

from .backend import GcpKmsBackend
from .connection import CallPolicy
from .uri import from_uri, version_uri

if TYPE_CHECKING:
    import click

__all__ = ["CallPolicy", "GcpKmsBackend", "from_uri", "version_uri"]


@hookimpl
def register_backends(register: Register) -> None:
    register("gcp-kms", from_uri, "secp256k1 key versions in Google Cloud KMS (HSM)")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import gcp_kms

    cli.add_command(gcp_kms)
