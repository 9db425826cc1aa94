"""Every signing surface of the core, signed by a Cloud KMS key version (the real google-cloud-kms client
against the emulator), recovers to the key's address: sync and async (tests/surfaces.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

import signers
from signers import Signer
from tests.surfaces import ASYNC_SURFACE_IDS, ASYNC_SURFACES, SURFACE_IDS, SURFACES


@pytest.fixture(scope="module")
def signer(gcp_kms_uri: str) -> Iterator[Signer]:
    with signers.load_signer(gcp_kms_uri) as loaded:
        yield loaded


@pytest.fixture
async def async_signer(gcp_kms_uri: str) -> AsyncIterator[Signer]:
    loaded = signers.load_signer(gcp_kms_uri)
    yield loaded
    await loaded.backend.aclose()  # type: ignore[attr-defined]
    loaded.close()


def test_address_is_the_public_keys(signer: Signer, gcp_kms_emulator: Any, gcp_kms_key: str) -> None:
    from signers.keys import PublicKey

    pem = gcp_kms_emulator.client.get_public_key(request={"name": gcp_kms_key}, timeout=5).pem
    assert signer.address == PublicKey.from_pem(pem).address


@pytest.mark.parametrize("surface", SURFACES, ids=SURFACE_IDS)
def test_every_surface_recovers(signer: Signer, surface: Callable[[Signer], None]) -> None:
    surface(signer)


@pytest.mark.parametrize("surface", ASYNC_SURFACES, ids=ASYNC_SURFACE_IDS)
async def test_every_async_surface_recovers(async_signer: Signer, surface: Callable[[Signer], Awaitable[None]]) -> None:
    await surface(async_signer)


async def test_async_is_native_and_concurrent(async_signer: Signer, gcp_kms_emulator: Any) -> None:
    """asign goes through the async client (no thread): 32 signatures in flight at once all recover."""
    import asyncio

    import signers_gcp_kms

    assert type(async_signer.backend).asign is not signers.Backend.asign
    assert isinstance(async_signer.backend, signers_gcp_kms.GcpKmsBackend)
    digests = [os.urandom(32) for _ in range(32)]
    results = await asyncio.gather(*(async_signer.asign_digest(d) for d in digests))
    assert all(sig.recover(d) == async_signer.address for sig, d in zip(results, digests, strict=True))
