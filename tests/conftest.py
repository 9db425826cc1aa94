"""Fixtures shared by every test folder. Each service's fixtures live in tests/fixtures/<service>.py and start
the real service on first use (session scope): a missing service is a failure, never a skip."""

pytest_plugins = [
    "tests.fixtures.softhsm",
    "tests.fixtures.localstack",
    "tests.fixtures.gcp_kms",
    "tests.fixtures.chain",
]
