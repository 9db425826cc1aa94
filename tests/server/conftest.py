"""Fixtures of the service tests: a real ``signers serve`` process (uvicorn) on a free loopback port.

``signers_server`` is the signers.testing plugin's fixture (signers/testing/server.py holds the factory);
``module_server`` is the same factory for a whole module. ``signers_server(config)`` takes the TOML
configuration as a dict (``[server]``, ``[keys.NAME]``, ``[clients.NAME]``...), gives every client without a
``token_hash`` a fresh token, fills in the port, the metrics port and an access log, writes the file, starts
the process and waits until ``/upcheck`` answers. It returns a ``RunningServer``: ``.url``, ``.metrics_url``,
``.token(client)``, ``.rpc(...)``, ``.stop()``. Every process still running is stopped (SIGTERM, then
SIGKILL) at the end of the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signers.testing.localstack import LocalStack
from signers.testing.server import RunningServer, ServerFactory, free_port, wait_ready
from tests.aws_kms.fault_proxy import FaultProxy
from tests.e2e.conftest import chain, counter  # noqa: F401  (the end-to-end chain fixtures, for test_chain.py)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """The same factory, for servers that a whole test module shares (starting one takes ~2 s)."""
    factory = ServerFactory(tmp_path_factory.mktemp("signers-serve"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def proxy(localstack: LocalStack) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of LocalStack KMS (tests/aws_kms/fault_proxy.py), one per module: a test
    injects the faults its own requests consume, and counts the proxy's requests relative to what it saw before."""
    proxy = FaultProxy(localstack.port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


__all__ = ["RunningServer", "ServerFactory", "free_port", "wait_ready"]  # the names the service tests import

LOCAL_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"  # eth-account's docs key
LOCAL_KEY_ENV = {"SIGNERS_TEST_SERVER_KEY": LOCAL_KEY}  # pass as env= to a server
LOCAL_KEY_URI = "local:env:SIGNERS_TEST_SERVER_KEY"


@pytest.fixture
def local_key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """A local: key for the server process (the variable is inherited); returns its URI."""
    monkeypatch.setenv("SIGNERS_TEST_SERVER_KEY", LOCAL_KEY)
    return LOCAL_KEY_URI
