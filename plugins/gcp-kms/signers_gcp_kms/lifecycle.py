"""Creating and listing signing keys (what `signers gcp-kms create/list` and test fixtures do)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from google.api_core import exceptions as gexc
from google.cloud import kms_v1 as kms

from signers.errors import BackendUnavailableError, IntegrityError, SignerError
from signers.keys import PublicKey

from .connection import CallPolicy
from .errors import translate
from .integrity import public_key_problem

Algorithm = kms.CryptoKeyVersion.CryptoKeyVersionAlgorithm
State = kms.CryptoKeyVersion.CryptoKeyVersionState


@dataclass(frozen=True)
class KeyVersionInfo:
    name: str
    algorithm: str
    state: str
    protection_level: str
    created: str | None
    address: str | None  # for enabled secp256k1 versions


def ensure_key_ring(client: kms.KeyManagementServiceClient, location: str, key_ring: str, policy: CallPolicy) -> str:
    """The key ring's name, creating it if it does not exist (key rings can never be deleted)."""
    name = f"{location}/keyRings/{key_ring}"
    try:
        client.create_key_ring(
            request={"parent": location, "key_ring_id": key_ring, "key_ring": {}},
            retry=policy.retry,
            timeout=policy.timeout,
        )
    except gexc.AlreadyExists:
        pass
    except Exception as exc:
        raise translate(exc, name) from None
    return name


def create_signing_key(
    client: kms.KeyManagementServiceClient,
    key_ring_name: str,
    key_id: str,
    *,
    algorithm: str = "EC_SIGN_SECP256K1_SHA256",
    protection_level: str = "HSM",
    policy: CallPolicy | None = None,
    generation_timeout: float = 60.0,
    labels: dict[str, str] | None = None,
) -> kms.CryptoKeyVersion:
    """Create an ASYMMETRIC_SIGN key and wait (bounded) for its first version to leave PENDING_GENERATION."""
    policy = policy or CallPolicy()
    where = f"{key_ring_name}/cryptoKeys/{key_id}"
    try:
        key = client.create_crypto_key(
            request={
                "parent": key_ring_name,
                "crypto_key_id": key_id,
                "crypto_key": {
                    "purpose": kms.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN,
                    "version_template": {
                        "algorithm": algorithm,  # proto-plus takes enum names
                        "protection_level": protection_level,
                    },
                    "labels": labels or {},
                },
            },
            retry=policy.retry,
            timeout=policy.timeout,
        )
    except gexc.AlreadyExists:
        raise SignerError(f"{where} already exists", hint="choose another key id, or add a version to it") from None
    except Exception as exc:
        raise translate(exc, where) from None
    return wait_generated(client, f"{key.name}/cryptoKeyVersions/1", policy, generation_timeout)


def wait_generated(
    client: kms.KeyManagementServiceClient, name: str, policy: CallPolicy, timeout: float
) -> kms.CryptoKeyVersion:
    """HSM key generation is asynchronous in Cloud KMS: poll the version until it is generated."""
    give_up = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            version = client.get_crypto_key_version(request={"name": name}, retry=policy.retry, timeout=policy.timeout)
        except Exception as exc:
            raise translate(exc, name) from None
        if version.state != State.PENDING_GENERATION:
            return version
        if time.monotonic() > give_up:
            raise BackendUnavailableError(f"{name}: still PENDING_GENERATION after {timeout:.0f} s")
        time.sleep(delay)  # polling a remote state: there is nothing to wait on but time
        delay = min(delay * 2, 2.0)


def address_of(client: kms.KeyManagementServiceClient, name: str, policy: CallPolicy) -> str:
    try:
        response = client.get_public_key(request={"name": name}, retry=policy.retry, timeout=policy.timeout)
    except Exception as exc:
        raise translate(exc, name) from None
    problem = public_key_problem(response, name)
    if problem:
        raise IntegrityError(
            f"{name}: {problem}", hint="the response was corrupted in transit or by the service: try again"
        )
    return PublicKey.from_pem(response.pem).address


def iter_versions(
    client: kms.KeyManagementServiceClient, key_ring_name: str, policy: CallPolicy, addresses: bool = True
) -> Iterator[KeyVersionInfo]:
    """Every version of every key of a key ring, with the address of each enabled secp256k1 version."""
    try:
        keys = list(
            client.list_crypto_keys(request={"parent": key_ring_name}, retry=policy.retry, timeout=policy.timeout)
        )
        for key in keys:
            pager = client.list_crypto_key_versions(
                request={"parent": key.name}, retry=policy.retry, timeout=policy.timeout
            )
            for version in pager:
                address = None
                if (
                    addresses
                    and version.state == State.ENABLED
                    and version.algorithm == Algorithm.EC_SIGN_SECP256K1_SHA256
                ):
                    address = address_of(client, version.name, policy)
                yield KeyVersionInfo(
                    name=version.name,
                    algorithm=Algorithm(version.algorithm).name,
                    state=State(version.state).name,
                    protection_level=kms.ProtectionLevel(version.protection_level).name,
                    created=version.create_time.isoformat() if version.create_time else None,
                    address=address,
                )
    except SignerError:
        raise
    except Exception as exc:
        raise translate(exc, key_ring_name) from None


def list_key_rings(client: kms.KeyManagementServiceClient, location: str, policy: CallPolicy) -> list[str]:
    try:
        pager = client.list_key_rings(request={"parent": location}, retry=policy.retry, timeout=policy.timeout)
        return [ring.name for ring in pager]
    except Exception as exc:
        raise translate(exc, location) from None
