"""Every signing surface of the core, signed by a Cloud KMS key version (the real google-cloud-kms client
against the emulator), recovers to the key's address: sync and async (signers.testing.conformance)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import signers
from signers import Signer
from signers.testing.conformance import SignerConformance


@pytest.fixture(scope="module")
def signer(gcp_kms_uri: str) -> Iterator[Signer]:
    with signers.load_signer(gcp_kms_uri) as loaded:
        yield loaded


@pytest.fixture
async def gcp_async_signer(gcp_kms_uri: str) -> AsyncIterator[Signer]:
    loaded = signers.load_signer(gcp_kms_uri)
    yield loaded
    await loaded.backend.aclose()  # type: ignore[attr-defined]
    loaded.close()


def test_address_is_the_public_keys(signer: Signer, gcp_kms_emulator: Any, gcp_kms_key: str) -> None:
    from signers.keys import PublicKey

    pem = gcp_kms_emulator.client.get_public_key(request={"name": gcp_kms_key}, timeout=5).pem
    assert signer.address == PublicKey.from_pem(pem).address


class TestConformance(SignerConformance):
    """The module's ``signer``, and its own function-scoped ``async_signer`` (the async client's loop)."""

    @pytest.fixture
    def async_signer(self, gcp_async_signer: Signer) -> Signer:
        return gcp_async_signer


async def test_async_is_native_and_concurrent(gcp_async_signer: Signer, gcp_kms_emulator: Any) -> None:
    """asign goes through the async client (no thread): 32 signatures in flight at once all recover."""
    import asyncio

    import signers_gcp_kms

    assert type(gcp_async_signer.backend).asign is not signers.Backend.asign
    assert isinstance(gcp_async_signer.backend, signers_gcp_kms.GcpKmsBackend)
    digests = [os.urandom(32) for _ in range(32)]
    results = await asyncio.gather(*(gcp_async_signer.asign_digest(d) for d in digests))
    assert all(sig.recover(d) == gcp_async_signer.address for sig, d in zip(results, digests, strict=True))
