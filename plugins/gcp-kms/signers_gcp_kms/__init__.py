"""signers-gcp-kms: Ethereum signing with secp256k1 keys in Google Cloud KMS, and a Cloud KMS emulator.

    gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N
    gcp-kms://...?endpoint=127.0.0.1:9010        a local emulator (python -m signers_gcp_kms.emulator)
    gcp-kms://...?timeout=5&deadline=15          seconds per attempt / for all attempts of one call

Credentials come from Application Default Credentials; every response passes Google's CRC32C and name
checks; calls have bounded deadlines and retries. google-cloud-kms is imported on first use only, so that
every `signers` command does not pay for it. The plugin template: hooks (entry points), uri, backend,
connection (clients and the bounded retry), errors (Cloud KMS -> signers errors), custody (the report), cli.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signers.lazy import lazy_exports

from .hooks import from_uri, register_backends, register_commands

if TYPE_CHECKING:
    from .backend import GcpKmsBackend
    from .connection import CallPolicy
    from .uri import version_uri

__all__ = ["CallPolicy", "GcpKmsBackend", "from_uri", "register_backends", "register_commands", "version_uri"]
__getattr__ = lazy_exports(__name__, {"GcpKmsBackend": ".backend", "CallPolicy": ".connection", "version_uri": ".uri"})
