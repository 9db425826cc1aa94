"""Fixtures shared by every test folder. The services come from the signers.testing pytest plugin (the one users
install with signers[testing]); tests/fixtures/<service>.py gives them the names these tests use, plus this
repository's helpers. Each starts the real service on first use (session scope): a missing service is a
failure, never a skip.

Every test that uses a service fixture (directly or through another fixture) is marked ``service`` here, in
one place, so ``make unit`` (``pytest -m "not service"``) runs all the others without starting anything."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.softhsm",
    "tests.fixtures.localstack",
    "tests.fixtures.gcp_kms",
    "tests.fixtures.chain",
]

# fixtures that start (or reach) a real service: the plugin's (LocalStack, SoftHSM, the emulator, the chain stack,
# PostgreSQL) and this repository's (Node with the SDK, the signing service)
SERVICE_FIXTURES = frozenset(
    {
        "localstack_kms",
        "softhsm_token",
        "gcp_kms_emulator",
        "aa_chain",
        "postgres",
        "sdk",
        "signers_server",
        "module_server",  # tests/server: the same service, shared by a module
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "service: needs a real service (started by a fixture); make unit skips these")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.service)
