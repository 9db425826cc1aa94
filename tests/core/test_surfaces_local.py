"""The backend conformance suite (tests/surfaces.py) on the local backend: the suite itself must pass on the
reference before it means anything for the others."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import pytest

import signers
from signers import Signer
from tests.surfaces import ASYNC_SURFACE_IDS, ASYNC_SURFACES, SURFACE_IDS, SURFACES


@pytest.fixture(scope="module")
def signer() -> Signer:
    import os

    os.environ["SURFACES_LOCAL_KEY"] = "0x" + secrets.token_hex(32)
    return signers.load_signer("local:env:SURFACES_LOCAL_KEY")


@pytest.mark.parametrize("surface", SURFACES, ids=SURFACE_IDS)
def test_every_surface_recovers(signer: Signer, surface: Callable[[Signer], None]) -> None:
    surface(signer)


@pytest.mark.parametrize("surface", ASYNC_SURFACES, ids=ASYNC_SURFACE_IDS)
async def test_every_async_surface_recovers(signer: Signer, surface: Callable[[Signer], Awaitable[None]]) -> None:
    await surface(signer)
