"""Fixtures shared by every test folder. Each service's fixtures live in tests/fixtures/<service>.py and start
the real service on first use (session scope): a missing service is a failure, never a skip.

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

# fixtures that start (or reach) a real service: LocalStack, SoftHSM, the emulator, the chain stack, Node
# with the SDK, PostgreSQL, the signing service
SERVICE_FIXTURES = frozenset(
    {"localstack", "softhsm", "gcp_kms_emulator", "chain_stack", "sdk", "postgres", "signers_server"}
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "service: needs a real service (started by a fixture); make unit skips these")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.service)
