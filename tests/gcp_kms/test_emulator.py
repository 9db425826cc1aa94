"""The emulator speaks Cloud KMS: the real google-cloud-kms client gets Google's answers and status codes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from eth_keys.constants import SECPK1_N
from google.api_core import exceptions
from google.cloud import kms_v1 as kms
from signers_gcp_kms.emulator import Emulator, EmulatorControl

from signers.keys import PublicKey


def crc(data: bytes) -> int:
    return int(google_crc32c.value(data))


def sign(client: Any, name: str, digest: bytes, **extra: Any) -> kms.AsymmetricSignResponse:
    request = {"name": name, "digest": {"sha256": digest}, "digest_crc32c": crc(digest), **extra}
    return client.asymmetric_sign(request=request, timeout=5)


def test_listens_on_loopback_only(gcp_kms_emulator: Any) -> None:
    assert gcp_kms_emulator.address.startswith("127.0.0.1:")


def test_key_ring_lifecycle(gcp_kms_emulator: Any) -> None:
    client = gcp_kms_emulator.client
    ring = gcp_kms_emulator.key_ring()
    assert client.get_key_ring(request={"name": ring}, timeout=5).name == ring
    with pytest.raises(exceptions.AlreadyExists):
        gcp_kms_emulator.key_ring(ring.rsplit("/", 1)[1])
    with pytest.raises(exceptions.NotFound):
        client.get_key_ring(request={"name": ring + "x"}, timeout=5)
    with pytest.raises(exceptions.InvalidArgument):
        client.get_key_ring(request={"name": "projects/p/keyRings/r"}, timeout=5)
    rings = [r.name for r in client.list_key_rings(request={"parent": gcp_kms_emulator.location}, timeout=5)]
    assert ring in rings


def test_crypto_key_versions_and_listing(gcp_kms_emulator: Any) -> None:
    client = gcp_kms_emulator.client
    ring = gcp_kms_emulator.key_ring()
    first = gcp_kms_emulator.create_key(key_ring=ring)
    key_name = first.rsplit("/cryptoKeyVersions/", 1)[0]
    key = client.get_crypto_key(request={"name": key_name}, timeout=5)
    assert key.purpose == kms.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN
    assert key.version_template.algorithm.name == "EC_SIGN_SECP256K1_SHA256"
    second = client.create_crypto_key_version(request={"parent": key_name, "crypto_key_version": {}}, timeout=5)
    assert second.name == key_name + "/cryptoKeyVersions/2"
    assert second.state.name == "ENABLED" and second.protection_level.name == "HSM"
    for _ in range(3):
        gcp_kms_emulator.create_key(key_ring=ring)
    # the client's pager follows next_page_token: a page size of 2 must still yield every key
    keys = list(client.list_crypto_keys(request={"parent": ring, "page_size": 2}, timeout=5))
    assert len(keys) == 4 and key_name in [k.name for k in keys]
    versions = list(client.list_crypto_key_versions(request={"parent": key_name, "page_size": 1}, timeout=5))
    assert [v.name for v in versions] == [first, second.name]
    with pytest.raises(exceptions.NotFound):
        client.list_crypto_keys(request={"parent": ring + "-none"}, timeout=5)


def test_create_key_refusals(gcp_kms_emulator: Any) -> None:
    ring = gcp_kms_emulator.key_ring()
    with pytest.raises(exceptions.InvalidArgument, match="HSM"):
        gcp_kms_emulator.create_key(protection_level="SOFTWARE", key_ring=ring)  # secp256k1 is HSM-only
    with pytest.raises(exceptions.InvalidArgument, match="not supported"):
        gcp_kms_emulator.create_key(algorithm="RSA_SIGN_PSS_2048_SHA256", key_ring=ring)
    with pytest.raises(exceptions.NotFound):
        gcp_kms_emulator.create_key(key_ring=ring + "-none")
    key = gcp_kms_emulator.create_key(key_ring=ring).split("/")[7]
    with pytest.raises(exceptions.AlreadyExists):
        gcp_kms_emulator.client.create_crypto_key(
            request={
                "parent": ring,
                "crypto_key_id": key,
                "crypto_key": {
                    "purpose": "ASYMMETRIC_SIGN",
                    "version_template": {"algorithm": "EC_SIGN_SECP256K1_SHA256", "protection_level": "HSM"},
                },
            },
            timeout=5,
        )


def test_public_key_and_signature_are_real_ecdsa(gcp_kms_emulator: Any, gcp_kms_key: str) -> None:
    client = gcp_kms_emulator.client
    public = client.get_public_key(request={"name": gcp_kms_key}, timeout=5)
    assert public.name == gcp_kms_key and public.pem_crc32c == crc(public.pem.encode())
    assert public.algorithm.name == "EC_SIGN_SECP256K1_SHA256" and public.protection_level.name == "HSM"
    verifier = serialization.load_pem_public_key(public.pem.encode())
    assert isinstance(verifier, ec.EllipticCurvePublicKey)
    PublicKey.from_pem(public.pem)  # secp256k1
    high = 0
    for _ in range(40):
        digest = os.urandom(32)
        response = sign(client, gcp_kms_key, digest)
        assert response.verified_digest_crc32c and response.name == gcp_kms_key
        assert response.signature_crc32c == crc(response.signature)
        verifier.verify(response.signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))  # raises if invalid
        high += decode_dss_signature(response.signature)[1] > SECPK1_N // 2
    assert 4 <= high <= 36  # random nonces: about half high-s, as Cloud KMS (P(outside) < 1e-6)


def test_sign_refusals(gcp_kms_emulator: Any, gcp_kms_key: str) -> None:
    client = gcp_kms_emulator.client
    with pytest.raises(exceptions.InvalidArgument, match="32 bytes"):
        sign(client, gcp_kms_key, os.urandom(33))
    with pytest.raises(exceptions.InvalidArgument, match="digest.sha256"):
        client.asymmetric_sign(request={"name": gcp_kms_key, "digest": {"sha384": os.urandom(48)}}, timeout=5)
    with pytest.raises(exceptions.InvalidArgument, match="did not match"):
        sign(client, gcp_kms_key, os.urandom(32), digest_crc32c=1)
    unverified = client.asymmetric_sign(request={"name": gcp_kms_key, "digest": {"sha256": os.urandom(32)}}, timeout=5)
    assert unverified.verified_digest_crc32c is False  # no CRC sent: nothing verified, as Cloud KMS answers


def test_version_state_transitions(gcp_kms_emulator: Any) -> None:
    client = gcp_kms_emulator.client
    key = gcp_kms_emulator.create_key()
    gcp_kms_emulator.set_state(key, "DISABLED")
    with pytest.raises(exceptions.FailedPrecondition, match="DISABLED"):
        sign(client, key, os.urandom(32))
    with pytest.raises(exceptions.FailedPrecondition):
        client.get_public_key(request={"name": key}, timeout=5)
    with pytest.raises(exceptions.InvalidArgument):
        gcp_kms_emulator.set_state(key, "DESTROYED")  # only ENABLED / DISABLED through an update
    scheduled = client.destroy_crypto_key_version(request={"name": key}, timeout=5)
    assert scheduled.state.name == "DESTROY_SCHEDULED" and scheduled.destroy_time is not None
    with pytest.raises(exceptions.FailedPrecondition):
        gcp_kms_emulator.set_state(key, "ENABLED")
    restored = client.restore_crypto_key_version(request={"name": key}, timeout=5)
    assert restored.state.name == "DISABLED"
    gcp_kms_emulator.set_state(key, "ENABLED")
    assert sign(client, key, os.urandom(32)).verified_digest_crc32c


def test_control_refuses_unknown_switch(gcp_kms_emulator: Any) -> None:
    import grpc

    with pytest.raises(grpc.RpcError) as raised:
        gcp_kms_emulator.control.set_faults(explode=1)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_persistence_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "kms"
    with Emulator(data_dir=data) as first:
        client = first.client()
        ring = client.create_key_ring(
            request={"parent": "projects/p/locations/global", "key_ring_id": "keep", "key_ring": {}}, timeout=5
        ).name
        key = client.create_crypto_key(
            request={
                "parent": ring,
                "crypto_key_id": "k",
                "crypto_key": {
                    "purpose": "ASYMMETRIC_SIGN",
                    "version_template": {"algorithm": "EC_SIGN_SECP256K1_SHA256", "protection_level": "HSM"},
                },
            },
            timeout=5,
        ).name
        pem = client.get_public_key(request={"name": key + "/cryptoKeyVersions/1"}, timeout=5).pem
        client.transport.close()
    assert (data / "state.json").stat().st_mode & 0o077 == 0  # private keys inside: owner only
    with Emulator(data_dir=data) as second:
        client = second.client()
        assert client.get_public_key(request={"name": key + "/cryptoKeyVersions/1"}, timeout=5).pem == pem
        with pytest.raises(exceptions.AlreadyExists):
            client.create_key_ring(
                request={"parent": "projects/p/locations/global", "key_ring_id": "keep", "key_ring": {}}, timeout=5
            )
        digest = os.urandom(32)
        response = sign(client, key + "/cryptoKeyVersions/1", digest)
        verifier = serialization.load_pem_public_key(pem.encode())
        assert isinstance(verifier, ec.EllipticCurvePublicKey)
        verifier.verify(response.signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        client.transport.close()


def test_in_process_faults_object() -> None:
    """In-process use: the Emulator's faults object is the same switchboard the control API sets."""
    with Emulator() as emulator:
        emulator.faults.set(unavailable=1)
        control = EmulatorControl(emulator.address)
        assert control.get_faults()["unavailable"] == 1
        client = emulator.client()
        with pytest.raises(exceptions.ServiceUnavailable):
            client.get_key_ring(request={"name": "projects/p/locations/l/keyRings/r"}, timeout=5, retry=None)
        with pytest.raises(exceptions.NotFound):  # the switch counted down: the next call is answered
            client.get_key_ring(request={"name": "projects/p/locations/l/keyRings/r"}, timeout=5, retry=None)
        assert control.stats()["GetKeyRing"] == 2
        control.close()
        client.transport.close()
