"""The Python client backend (``signers+http``) against a real ``signers serve`` process.

Every signing surface (the conformance suite, signers.testing.conformance), sync and async, for a local key and a key
in SoftHSM behind the service, each signature recovered with eth-account; web3.py's signing middleware over
``to_account`` sending a transaction that lands on anvil; the service's refusals as the library's errors; and
the token never shown.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

import signers
from signers.account import to_account
from signers.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    KeyNotFoundError,
    PolicyViolationError,
    SecretSourceError,
    SignerError,
)
from signers.signer import Signer
from signers.testing.conformance import CHAIN_ID, SURFACES, TO, SignerConformance

from .conftest import LOCAL_KEY, LOCAL_KEY_ENV, LOCAL_KEY_URI, RunningServer

TOKEN_ENV = "SIGNERS_TEST_REMOTE_TOKEN"
OTHER_TOKEN_ENV = "SIGNERS_TEST_REMOTE_OTHER_TOKEN"
LOCAL_ADDRESS = Account.from_key(LOCAL_KEY).address


def remote_uri(server: RunningServer, key: str, token_env: str = TOKEN_ENV) -> str:
    return f"signers+http://{server.url.split('://')[1].rstrip('/')}/{key}?token-source=env:{token_env}"


CONFIG: dict[str, Any] = {
    "server": {"chain_id": CHAIN_ID},
    "keys": {"dev": {"uri": LOCAL_KEY_URI}},
    "clients": {
        "app": {"keys": ["dev", "hsm"], "raw_digest": True},
        "narrow": {"keys": ["dev"], "to": [TO], "max_value_wei": 10**15},
    },
}


def _config(softhsm: Any) -> dict[str, Any]:
    """A local key and a SoftHSM key; "app" may sign everything for chain 1337 (raw digests too); "narrow"
    only the local key, no raw digest, one `to`, value capped."""
    return {**CONFIG, "keys": {**CONFIG["keys"], "hsm": {"uri": softhsm.generate_key()}}}


@pytest.fixture(scope="module")
def shared_service(module_server: Callable[..., RunningServer], softhsm: Any) -> RunningServer:
    """One service for the tests that do not stop it (starting one takes seconds)."""
    return module_server(_config(softhsm), env=LOCAL_KEY_ENV)


@pytest.fixture
def service(shared_service: RunningServer) -> RunningServer:
    assert shared_service.alive()
    return shared_service


@pytest.fixture
def own_service(
    signers_server: Callable[..., RunningServer], softhsm: Any, monkeypatch: pytest.MonkeyPatch
) -> RunningServer:
    """A service of this test's own (the test stops it)."""
    server = signers_server(_config(softhsm), env=LOCAL_KEY_ENV)
    monkeypatch.setenv(TOKEN_ENV, server.token("app"))
    return server


@pytest.fixture
def tokens(service: RunningServer, monkeypatch: pytest.MonkeyPatch) -> RunningServer:
    monkeypatch.setenv(TOKEN_ENV, service.token("app"))
    monkeypatch.setenv(OTHER_TOKEN_ENV, service.token("narrow"))
    return service


@pytest.fixture(params=["dev", "hsm"])
def remote(request: pytest.FixtureRequest, tokens: RunningServer) -> Iterator[Signer]:
    signer = signers.load_signer(remote_uri(tokens, request.param))
    try:
        yield signer
    finally:
        signer.close()


class TestConformance(SignerConformance):
    """The conformance kit through the service, for each key; the async client closed in the test's loop."""

    @pytest.fixture
    def signer(self, remote: Signer) -> Signer:
        return remote

    @pytest.fixture
    async def async_signer(self, remote: Signer) -> AsyncIterator[Signer]:
        yield remote
        await remote.aclose()


def test_the_key_is_found_by_name_and_by_address(tokens: RunningServer) -> None:
    by_name = signers.load_signer(remote_uri(tokens, "dev"))
    by_address = signers.load_signer(remote_uri(tokens, LOCAL_ADDRESS.lower()))
    assert by_name.address == by_address.address == LOCAL_ADDRESS
    assert by_name.backend.describe() == f"signers+http://{tokens.url.split('://')[1].rstrip('/')}/dev"


def test_each_request_reaches_the_service_with_its_context(tokens: RunningServer) -> None:
    """The access log shows the method each kind was forwarded as: the service's policies saw the structure."""
    signer = signers.load_signer(remote_uri(tokens, "dev"))
    for surface in SURFACES:
        surface(signer)
    methods = {line.get("method") for line in tokens.log_lines()}
    assert {
        "personal_sign",
        "eth_signTypedData_v4",
        "eth_signTransaction",
        "signers_signAuthorization",
        "signers_signUserOperation",
        "signers_signDigest",
    } <= methods


def test_web3_middleware_sends_a_transaction_signed_by_the_service(
    signers_server: Callable[..., RunningServer], local_key_env: str, chain_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """web3.py's SignAndSendRawMiddlewareBuilder with to_account(remote signer): the transaction lands on anvil."""
    server = signers_server(
        {
            "server": {"chain_id": chain_stack.chain_id},
            "keys": {"dev": {"uri": local_key_env}},
            "clients": {"app": {"keys": ["dev"]}},
        }
    )
    monkeypatch.setenv(TOKEN_ENV, server.token("app"))
    signer = signers.load_signer(remote_uri(server, "dev"))
    w3 = Web3(Web3.HTTPProvider(chain_stack.rpc_url))
    funder = chain_stack.accounts[0].address  # unlocked in anvil
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": funder, "to": signer.address, "value": 10**17})
    )
    account = to_account(signer)
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
    before = w3.eth.get_balance(TO)
    tx_hash = w3.eth.send_transaction({"from": account.address, "to": TO, "value": 12345})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1
    assert w3.eth.get_transaction(tx_hash)["from"] == signer.address
    assert w3.eth.get_balance(TO) == before + 12345
    assert [line.get("method") for line in server.log_lines()].count("eth_signTransaction") == 1


def test_refusals_are_the_library_errors(tokens: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = signers.load_signer(remote_uri(tokens, "dev", OTHER_TOKEN_ENV))
    with pytest.raises(PolicyViolationError, match="User denied") as refused:  # no raw-digest right
        narrow.sign_digest(bytes(32))
    assert "signers_signDigest" in str(refused.value)
    tx = {"to": "0x" + "77" * 20, "value": 1, "nonce": 0, "gas": 21000, "gasPrice": 10**9, "chainId": CHAIN_ID}
    with pytest.raises(PolicyViolationError, match="allowlist"):
        narrow.sign_transaction(tx)
    with pytest.raises(PolicyViolationError, match="cap"):
        narrow.sign_transaction({**tx, "to": TO, "value": 10**18})
    with pytest.raises(PolicyViolationError, match="chain"):
        narrow.sign_transaction({**tx, "to": TO, "chainId": 5})
    with pytest.raises(PolicyViolationError, match="hash_messages"):  # a bare 32-byte message may be a hash
        narrow.sign_message(bytes(32))
    assert narrow.sign_transaction({**tx, "to": TO}).r > 0  # the service still serves this client

    with pytest.raises(KeyNotFoundError):  # the key exists, but not for this client
        signers.load_signer(remote_uri(tokens, "hsm", OTHER_TOKEN_ENV))
    with pytest.raises(KeyNotFoundError) as unknown:  # a token pasted where the key name goes is not echoed
        signers.load_signer(remote_uri(tokens, "sgn_pasted-in-the-wrong-place"))
    assert "pasted" not in str(unknown.value)
    monkeypatch.setenv("SIGNERS_TEST_WRONG_TOKEN", "sgn_" + "x" * 43)
    with pytest.raises(AuthenticationError) as wrong:
        signers.load_signer(remote_uri(tokens, "dev", "SIGNERS_TEST_WRONG_TOKEN"))
    assert "x" * 43 not in str(wrong.value)


def test_the_token_is_never_shown(own_service: RunningServer) -> None:
    tokens = own_service
    token = tokens.token("app")
    signer = signers.load_signer(remote_uri(tokens, "dev"))
    shown = [repr(signer), repr(signer.backend), str(signer.backend.custody()), repr(signer.backend._transport)]
    tokens.stop()
    with pytest.raises(BackendUnavailableError) as down:
        signer.sign_message("the service is gone")
    shown += [str(down.value), repr(down.value)]
    assert all(token not in text for text in shown)


def test_a_service_that_stops_is_unavailable_and_nothing_is_signed(own_service: RunningServer) -> None:
    tokens = own_service
    signer = signers.load_signer(remote_uri(tokens, "dev"))
    signer.sign_message("while it runs")
    tokens.stop()
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        signer.sign_message("after it stopped")


@pytest.mark.parametrize(
    ("uri", "error", "words"),
    [
        ("signers+http://10.1.2.3:8550/dev?token-source=env:X", ConfigurationError, "clear text"),
        ("signers+http://127.0.0.1:8550?token-source=env:X", ConfigurationError, "names no key"),
        ("signers+http://127.0.0.1:8550/dev", SecretSourceError, "token source"),
        ("signers+http://127.0.0.1:8550/dev?token=abc", ConfigurationError, "unknown URI attribute"),
        ("signers+http://127.0.0.1:8550/dev?token-source=env:X&ca-file=/x.pem", ConfigurationError, "https"),
        ("signers+https://h:1/dev?token-source=env:X&cert-file=/c.pem", ConfigurationError, "together"),
        ("signers+https://h:1/dev?token-source=env:X&timeout=-1", ConfigurationError, "timeout"),
    ],
)
def test_bad_uris_are_refused_before_any_request(
    uri: str, error: type[SignerError], words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("X", "a-token-value")
    with pytest.raises(error, match=words) as refused:
        signers.load_signer(uri)
    assert "a-token-value" not in str(refused.value) and "abc" not in str(refused.value)


async def test_concurrent_async_requests_share_the_service(tokens: RunningServer) -> None:
    """Many asign_* in flight at once on one event loop: each signature is its own and recovers."""
    signer = signers.load_signer(remote_uri(tokens, "dev"))
    texts = [f"payment #{i}" for i in range(24)]
    signed = await asyncio.gather(*(signer.asign_message(text) for text in texts))
    for text, one in zip(texts, signed, strict=True):
        assert Account.recover_message(encode_defunct(text=text), signature=one.signature) == signer.address
    await signer.aclose()


def test_a_structured_request_never_goes_as_a_bare_digest(tokens: RunningServer) -> None:
    """A transaction (or any structured kind) whose structure is missing is refused, not sent as a digest that
    the service's transaction policies would never see."""
    from signers_server.client.forward import rpc_request

    from signers.signer import SignRequest

    signer = signers.load_signer(remote_uri(tokens, "dev"))
    for kind in ("transaction", "typed_data", "authorization", "user_operation"):
        with pytest.raises(ConfigurationError, match="without its structure"):
            rpc_request(SignRequest(signer, bytes(32), kind, payload=None))
    assert rpc_request(SignRequest(signer, bytes(32), "digest"))[0] == "signers_signDigest"


def test_a_timeout_after_sending_is_reported_and_never_repeated(own_service: RunningServer) -> None:
    """A service that stops answering (SIGSTOP: the kernel still accepts the request) makes the client give up
    after timeout= with an error that says the service may have signed; the request is sent once, not retried."""
    signer = signers.load_signer(remote_uri(own_service, "dev") + "&timeout=1")
    signer.sign_message("warm")  # the connection is open: the next request is sent, then unanswered
    os.kill(own_service.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(BackendUnavailableError, match="did not answer in time") as late:
            signer.sign_message("while it is stopped")
        assert "may have been signed" in str(late.value)
    finally:
        os.kill(own_service.process.pid, signal.SIGCONT)
    assert signer.sign_message("after").signature  # the service serves again

    def signed() -> int:
        return sum(line.get("method") == "personal_sign" for line in own_service.log_lines())

    deadline = time.monotonic() + 10  # the stopped request finishes on its own connection, maybe after "after"
    while signed() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the service's log: there is no event to wait on across processes
    assert signed() == 3  # warm, the one that timed out (answered after SIGCONT, to nobody), after: no retry
    signer.close()


def test_sign_digests_go_in_json_rpc_batches(tokens: RunningServer) -> None:
    """Signer.sign_digests over the remote backend: batches of 50 calls per POST, every signature checked."""
    signer = signers.load_signer(remote_uri(tokens, "hsm"))
    digests = [os.urandom(32) for _ in range(120)]
    signatures = signer.sign_digests(digests)
    assert [s.recover(d) for s, d in zip(signatures, digests, strict=True)] == [signer.address] * 120
    narrow = signers.load_signer(remote_uri(tokens, "dev", OTHER_TOKEN_ENV))
    with pytest.raises(PolicyViolationError, match="signers_signDigest"):  # each call refused: the first raises
        narrow.sign_digests(digests[:3])
    signer.close()
    narrow.close()
