"""The pytest plugin of ``signers[testing]`` (entry point ``pytest11: signers``): real services as fixtures.

Session-scoped fixtures start their service on first use and stop, at the end of the session, only what they
started (a service already running with the same state folder or port is reused and left alone):

- ``softhsm_token``: a private SoftHSM2 token; ``generate_key()`` returns a ``pkcs11:`` URI (signers-pkcs11);
- ``localstack_kms``: LocalStack's KMS as a process; ``create_key()`` returns a key with ``.uri`` (boto3);
- ``gcp_kms_emulator``: the Cloud KMS emulator; ``create_key()`` returns a key version (signers-gcp-kms);
- ``aa_chain``: anvil + EntryPoint v0.7 + Alto + Nexus + Smart Sessions and the policies, funded dev accounts;
- ``postgres``: a private PostgreSQL cluster; ``create_database(name)`` returns an audit-trail URL;
- ``local_key`` (function scope): the ``local:env:...`` URI of a fresh random key;
- ``signers_server`` (function scope, needs signers-server): ``signers_server(config_dict, env=...)`` starts a
  real ``signers serve`` on a free port and returns a ``RunningServer``; all are stopped after the test.

Nothing is imported or started until a test asks for a fixture, and no fixture is autouse, so a suite that uses
none of them runs as before. Settings (ini options, each overridden by its environment variable):
``signers_testing_state`` (SIGNERS_TESTING_STATE), ``signers_testing_localstack_port`` (LOCALSTACK_PORT),
``signers_testing_chain_rpc_port`` (SIGNERS_CHAIN_RPC_PORT), ``signers_testing_chain_bundler_port``
(SIGNERS_CHAIN_BUNDLER_PORT); see signers.testing.config and docs/testing.md.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol, TypeVar

import pytest

from .config import STATE_ENV, MissingDependency, state_dir

if TYPE_CHECKING:
    from .chain.deployment import ChainStack
    from .gcp_kms import GcpKmsEmulator
    from .localstack import LocalStack
    from .postgres import Cluster
    from .server import ServerFactory
    from .softhsm import PrivateToken

SETTINGS = {  # ini option -> environment variable
    "signers_testing_state": STATE_ENV,
    "signers_testing_localstack_port": "LOCALSTACK_PORT",
    "signers_testing_chain_rpc_port": "SIGNERS_CHAIN_RPC_PORT",
    "signers_testing_chain_bundler_port": "SIGNERS_CHAIN_BUNDLER_PORT",
}
PIN_ENV = "SIGNERS_TEST_PKCS11_PIN"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("signers_testing_state", "folder for the services' installs and state (relative: to rootdir)")
    parser.addini("signers_testing_localstack_port", "LocalStack's port (0: a free one)")
    parser.addini("signers_testing_chain_rpc_port", "anvil's port for aa_chain (0: a free one)")
    parser.addini("signers_testing_chain_bundler_port", "Alto's port for aa_chain (0: a free one)")


def pytest_configure(config: pytest.Config) -> None:
    # copied into the environment (where not set there) so the services' own processes see the same values
    for option, env in SETTINGS.items():
        value = str(config.getini(option) or "").strip()
        if value and env not in os.environ:
            if option == "signers_testing_state":
                value = str((config.rootpath / value).resolve())
            os.environ[env] = value


def _missing(exc: MissingDependency) -> NoReturn:
    pytest.fail(str(exc), pytrace=False)  # a missing service fails, with the command that installs it


def _need(module: str, install: str) -> None:
    """Fails (never skips) when the Python package a fixture drives is not installed."""
    if importlib.util.find_spec(module) is None:
        _missing(MissingDependency(f"the Python package {module} is not installed; install it with: {install}"))


class _Service(Protocol):
    started_here: bool

    def stop(self) -> object: ...


_S = TypeVar("_S", bound=_Service)


@contextmanager
def _started(start: Callable[[], _S]) -> Iterator[_S]:
    """``start()``'s service for the block: a missing dependency fails (never skips); at the end it is stopped
    only if ``start`` started it (one found running is left alone)."""
    try:
        service = start()
    except MissingDependency as exc:
        _missing(exc)
    try:
        yield service
    finally:
        if service.started_here:
            service.stop()


@pytest.fixture(scope="session")
def softhsm_token() -> Iterator[PrivateToken]:
    """A private SoftHSM2 token for the session; its random PIN only in the environment (pin-source=env:...)."""
    from .softhsm import find_module, private_token

    _need("signers_pkcs11", "pip install signers-pkcs11")
    try:
        module = find_module()
        with private_token(state_dir("softhsm") / f"pytest-{os.getpid()}", "signers-test", PIN_ENV, module) as token:
            yield token
    except MissingDependency as exc:
        _missing(exc)


@pytest.fixture(scope="session")
def localstack_kms() -> Iterator[LocalStack]:
    """LocalStack's KMS on 127.0.0.1 (LOCALSTACK_PORT, else a free port), with boto3's test environment set."""
    from . import localstack

    _need("boto3", "pip install signers-aws-kms")
    localstack.set_test_environment()
    with _started(localstack.start) as server:
        yield server


@pytest.fixture(scope="session")
def gcp_kms_emulator() -> Iterator[GcpKmsEmulator]:
    """The Cloud KMS emulator on a free loopback port, reached with the real google-cloud-kms client."""
    from .gcp_kms import running_emulator

    _need("signers_gcp_kms", "pip install signers-gcp-kms")
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def aa_chain() -> Iterator[ChainStack]:
    """The ERC-4337 chain stack (installed from the npm registry into the state folder on first use)."""
    from .chain.deployment import running_chain

    try:
        with running_chain() as chain:
            yield chain
    except MissingDependency as exc:
        _missing(exc)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A private PostgreSQL cluster on 127.0.0.1; ``create_database(name)`` gives an audit-trail URL."""
    from .postgres import running_cluster

    _need("psycopg", 'pip install "signers[postgres]"')
    with _started(running_cluster) as cluster:
        yield cluster


@pytest.fixture
def signers_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """``signers_server(config, env=None, wait=True)`` -> a running ``signers serve`` for this test."""
    _need("signers_server", "pip install signers-server")
    _need("tomli_w", "pip install tomli-w")
    from .server import ServerFactory

    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def local_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The URI of a fresh random key held by this process (``local:env:...``): the reference backend."""
    name = f"SIGNERS_TEST_LOCAL_KEY_{secrets.token_hex(4).upper()}"
    monkeypatch.setenv(name, "0x" + secrets.token_hex(32))
    return f"local:env:{name}"
