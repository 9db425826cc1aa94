"""Every CRC32C / name check Google documents is made: a spoiled response is asked for again a bounded
number of times, and a persistent fault raises IntegrityError; nothing unverified is returned."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import signers
from signers import IntegrityError, Signer

SIGN_FAULTS = ["corrupt_signature_crc", "unverified_digest_crc", "wrong_name"]
RETRIES = 2  # the backend's default integrity retries: 3 attempts in all


@pytest.fixture(scope="module")
def key(gcp_kms_emulator: Any) -> str:
    return str(gcp_kms_emulator.create_key())


@pytest.fixture(scope="module")
def signer(gcp_kms_emulator: Any, key: str) -> Iterator[Signer]:
    with signers.load_signer(gcp_kms_emulator.uri(key)) as loaded:
        yield loaded


def calls(emulator: Any, method: str) -> int:
    return int(emulator.control.stats().get(method, 0))


@pytest.mark.parametrize("fault", SIGN_FAULTS)
def test_transient_fault_is_retried(gcp_kms_emulator: Any, key: str, signer: Signer, fault: str) -> None:
    digest = os.urandom(32)
    before = calls(gcp_kms_emulator, "AsymmetricSign")
    with gcp_kms_emulator.faults(scope=key, **{fault: 1}):
        signature = signer.sign_digest(digest)
    assert signature.recover(digest) == signer.address
    assert calls(gcp_kms_emulator, "AsymmetricSign") - before == 2  # the spoiled answer, then a good one


@pytest.mark.parametrize("fault", SIGN_FAULTS)
def test_persistent_fault_raises(gcp_kms_emulator: Any, key: str, signer: Signer, fault: str) -> None:
    before = calls(gcp_kms_emulator, "AsymmetricSign")
    with gcp_kms_emulator.faults(scope=key, **{fault: -1}), pytest.raises(IntegrityError) as raised:
        signer.sign_digest(os.urandom(32))
    assert calls(gcp_kms_emulator, "AsymmetricSign") - before == RETRIES + 1
    expected = {
        "corrupt_signature_crc": "CRC32C",
        "unverified_digest_crc": "digest",
        "wrong_name": "cryptoKeyVersions/2",
    }
    assert expected[fault] in str(raised.value)
    assert "3 attempts" in str(raised.value)


@pytest.mark.parametrize("fault", SIGN_FAULTS)
async def test_persistent_fault_raises_async(gcp_kms_emulator: Any, key: str, fault: str) -> None:
    signer = signers.load_signer(gcp_kms_emulator.uri(key))
    try:
        with gcp_kms_emulator.faults(scope=key, **{fault: -1}), pytest.raises(IntegrityError):
            await signer.asign_digest(os.urandom(32))
        with gcp_kms_emulator.faults(scope=key, **{fault: 2}):  # two spoiled answers, the third is good
            digest = os.urandom(32)
            assert (await signer.asign_digest(digest)).recover(digest) == signer.address
    finally:
        await signer.backend.aclose()  # type: ignore[attr-defined]
        signer.close()


@pytest.mark.parametrize("fault", ["corrupt_pem_crc", "wrong_name"])
def test_public_key_checks(gcp_kms_emulator: Any, key: str, signer: Signer, fault: str) -> None:
    with gcp_kms_emulator.faults(scope=key, **{fault: -1}), pytest.raises(IntegrityError) as raised:
        signers.load_signer(gcp_kms_emulator.uri(key))
    assert "public key" in str(raised.value)
    with gcp_kms_emulator.faults(scope=key, **{fault: 1}):
        assert signers.load_signer(gcp_kms_emulator.uri(key)).address == signer.address


def test_integrity_retries_option(gcp_kms_emulator: Any, key: str) -> None:
    with signers.load_signer(gcp_kms_emulator.uri(key), integrity_retries=0) as strict:
        before = calls(gcp_kms_emulator, "AsymmetricSign")
        with gcp_kms_emulator.faults(scope=key, corrupt_signature_crc=1), pytest.raises(IntegrityError):
            strict.sign_digest(os.urandom(32))
        assert calls(gcp_kms_emulator, "AsymmetricSign") - before == 1


def test_digest_crc_is_sent_and_checked_by_the_service(gcp_kms_emulator: Any, key: str) -> None:
    """The emulator refuses a digest whose CRC32C does not match, as Cloud KMS does (INVALID_ARGUMENT)."""
    from google.api_core import exceptions

    digest = os.urandom(32)
    request = {"name": key, "digest": {"sha256": digest}, "digest_crc32c": 12345}
    with pytest.raises(exceptions.InvalidArgument, match="digest_crc32c"):
        gcp_kms_emulator.client.asymmetric_sign(request=request, timeout=5)
