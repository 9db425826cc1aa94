"""The CRC32C and name checks Google documents for Cloud KMS responses (the client library makes none).

Each check returns None when the response is intact, or what was wrong. Corruption in transit is rare and
transient, so callers ask again a bounded number of times before raising ``IntegrityError``.
"""

from __future__ import annotations

import google_crc32c
from google.cloud.kms_v1 import AsymmetricSignResponse, PublicKey


def crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


def signature_problem(response: AsymmetricSignResponse, name: str) -> str | None:
    raw = AsymmetricSignResponse.pb(response)  # the protobuf itself: field reads without proto-plus marshalling
    if not raw.verified_digest_crc32c:
        return "Cloud KMS did not confirm the digest's CRC32C (the request may have been corrupted in transit)"
    if raw.name != name:
        return f"the response is for {raw.name!r}, not the requested key version"
    if not raw.HasField("signature_crc32c") or crc32c(raw.signature) != raw.signature_crc32c.value:
        return "the signature does not match its CRC32C (corrupted in transit)"
    return None


def public_key_problem(response: PublicKey, name: str) -> str | None:
    if response.name != name:
        return f"the public key is for {response.name!r}, not the requested key version"
    if response.pem_crc32c is None or crc32c(response.pem.encode()) != response.pem_crc32c:
        return "the public key PEM does not match its CRC32C (corrupted in transit)"
    return None
