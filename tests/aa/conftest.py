"""Fixtures of the signers.aa tests: the SDK harness, a seeded random source, signers without global hooks."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator

import pluggy
import pytest

from signers import hookspecs
from signers.local import LocalBackend
from signers.signer import Signer

from . import sdk_harness


@pytest.fixture(scope="session")
def sdk() -> Callable[[list[dict]], list[dict]]:  # type: ignore[type-arg]
    """The SDK cross-check runner; installs the pinned npm packages on first use (a failure if it cannot)."""
    sdk_harness.install()
    return sdk_harness.run


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """Random inputs, reproducible: the seed is printed in the failure report (AA_SEED=... to replay)."""
    seed = int(os.environ.get("AA_SEED") or random.SystemRandom().getrandbits(32))
    request.node.user_properties.append(("aa_seed", seed))
    print(f"AA_SEED={seed}")
    return random.Random(seed)


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    """A plugin manager of our own: hooks registered by a test stay in the test."""
    manager = pluggy.PluginManager("signers")
    manager.add_hookspecs(hookspecs)
    return manager


@pytest.fixture
def make_signer(plugin_manager: pluggy.PluginManager) -> Iterator[Callable[[bytes], Signer]]:
    signers: list[Signer] = []

    def make(private_key: bytes) -> Signer:
        signer = Signer(LocalBackend(private_key, "local test key"), plugin_manager=plugin_manager)
        signers.append(signer)
        return signer

    yield make
    for s in signers:
        s.close()
