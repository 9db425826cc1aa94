"""BundlerClient, PaymasterClient and NodeClient against a real loopback JSON-RPC server: every error path."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from signers.aa import (
    CANONICAL,
    BundlerClient,
    BundlerError,
    ContractCallError,
    ExecutionRevertedError,
    InvalidFieldsError,
    MethodNotFoundError,
    NodeClient,
    OpcodeViolationError,
    OutOfTimeRangeError,
    PaymasterClient,
    PaymasterRejectedError,
    RpcUnavailableError,
    SignatureCheckFailedError,
    StakeTooLowError,
    ThrottledEntityError,
    UnsupportedAggregatorError,
    UserOperation,
    UserOperationFailedError,
    UserOperationRejectedError,
    UserOperationTimeoutError,
)
from signers.errors import BackendUnavailableError, SignerError

from .rpc_server import Reply, RpcFault, serve

EP = CANONICAL.entry_point
OP = UserOperation(
    sender="0x1111111111111111111111111111111111111111",
    nonce=5,
    call_data=b"\xe9\xae\x5c\x53",
    call_gas_limit=100_000,
    verification_gas_limit=200_000,
    pre_verification_gas=50_000,
    max_fee_per_gas=2_000_000_000,
    max_priority_fee_per_gas=1_000_000_000,
    signature=b"\x01" * 65,
)
HASH = "0x" + "ab" * 32


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (-32500, UserOperationRejectedError),
        (-32501, PaymasterRejectedError),
        (-32502, OpcodeViolationError),
        (-32503, OutOfTimeRangeError),
        (-32504, ThrottledEntityError),
        (-32505, StakeTooLowError),
        (-32506, UnsupportedAggregatorError),
        (-32507, SignatureCheckFailedError),
        (-32521, ExecutionRevertedError),
        (-32602, InvalidFieldsError),
        (-32601, MethodNotFoundError),
        (-32000, BundlerError),
    ],
)
def test_json_rpc_error_codes_become_their_class(code: int, cls: type[BundlerError]) -> None:
    def answer(method: str, params: list[Any]) -> Any:
        raise RpcFault(code, "UserOperation reverted during simulation with reason: AA23 reverted", {"x": 1})

    with serve(answer) as server, BundlerClient(server.url) as bundler, pytest.raises(cls) as info:
        bundler.send_user_operation(OP, EP)
    error = info.value
    assert type(error) is cls
    assert isinstance(error, SignerError)
    assert error.code == code
    assert error.aa_code == "AA23"
    assert error.data == {"x": 1}
    assert error.method == "eth_sendUserOperation"
    assert "AA23 reverted" in str(error)
    assert "validation reverted" in error.hint  # the AA code's hint


@pytest.mark.parametrize(
    ("message", "aa_code", "hint_word"),
    [
        ("AA25 invalid account nonce", "AA25", "nonce"),
        ("AA21 didn't pay prefund", "AA21", "prefund"),
        ("AA24 signature error", "AA24", "signature"),
        ("AA22 expired or not due", "AA22", "expired"),
        ("AA33 reverted: 0x", "AA33", "paymaster"),
        ("something without a code", None, "account refused"),
    ],
)
def test_aa_codes_are_kept_and_explained(message: str, aa_code: str | None, hint_word: str) -> None:
    def answer(method: str, params: list[Any]) -> Any:
        raise RpcFault(-32500, message)

    with (
        serve(answer) as server,
        BundlerClient(server.url) as bundler,
        pytest.raises(UserOperationRejectedError) as info,
    ):
        bundler.estimate_user_operation_gas(OP, EP)
    assert info.value.aa_code == aa_code
    assert hint_word in info.value.hint
    assert info.value.server_message == message


def test_aa_code_found_in_error_data() -> None:
    def answer(method: str, params: list[Any]) -> Any:
        raise RpcFault(-32500, "validation failed", {"reason": "AA26 over verificationGasLimit"})

    with (
        serve(answer) as server,
        BundlerClient(server.url) as bundler,
        pytest.raises(UserOperationRejectedError) as info,
    ):
        bundler.send_user_operation(OP, EP)
    assert info.value.aa_code == "AA26"


def test_http_error_with_a_json_rpc_body_keeps_the_json_rpc_error() -> None:
    body = b'{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"invalid UserOperation: callGasLimit"}}'
    with (
        serve(lambda m, p: Reply(400, body)) as server,
        BundlerClient(server.url) as bundler,
        pytest.raises(InvalidFieldsError) as info,
    ):
        bundler.send_user_operation(OP, EP)
    assert info.value.code == -32602


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(502, b"<html>bad gateway</html>", "text/html"), "HTTP 502 with a non-JSON body"),
        (Reply(200, b"not json at all", "text/plain"), "non-JSON body"),
        (Reply(200, b"[1, 2]"), "JSON list"),
        (Reply(200, b'{"jsonrpc":"2.0","id":1}'), "neither result nor error"),
        (Reply(200, b'{"jsonrpc":"2.0","id":1,"error":"boom"}'), "malformed JSON-RPC error"),
        (Reply(503, b'{"jsonrpc":"2.0","id":1,"result":null}'), "HTTP 503"),
    ],
)
def test_non_json_rpc_answers_are_unavailable_errors(reply: Reply, words: str) -> None:
    with (
        serve(lambda m, p: reply) as server,
        BundlerClient(server.url) as bundler,
        pytest.raises(RpcUnavailableError) as info,
    ):
        bundler.supported_entry_points()
    assert words in str(info.value)
    assert isinstance(info.value, BackendUnavailableError)


def test_an_unanswered_send_says_the_op_may_have_gone_through() -> None:
    """A lost answer to a read is harmless; to eth_sendUserOperation it is not: the hint must not say
    "nothing was sent" (the flows go further: UserOperationInDoubtError, tests/e2e/test_bundler_faults.py)."""
    bad_gateway = Reply(502, b"<html>bad gateway</html>", "text/html")
    with serve(lambda m, p: bad_gateway) as server, BundlerClient(server.url) as bundler:
        with pytest.raises(RpcUnavailableError) as read:
            bundler.get_user_operation_receipt(HASH)
        with pytest.raises(RpcUnavailableError) as send:
            bundler.send_user_operation(OP, EP)
    assert "asked again" in read.value.hint
    assert "may have reached the bundler" in send.value.hint and "never sign a new op" in send.value.hint


def test_refused_connection_names_the_url_without_its_api_key() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for url in (f"http://user:pass@127.0.0.1:{port}/v1?apikey=SECRET123", f"http://127.0.0.1:{port}/v2/SECRET123"):
        bundler = BundlerClient(url)  # providers put keys in user info, query, or the path
        with pytest.raises(RpcUnavailableError) as info:
            bundler.send_user_operation(OP, EP)
        text = str(info.value) + repr(bundler)
        assert f"http://127.0.0.1:{port}/…" in text
        assert "SECRET123" not in text and "pass" not in text
        bundler.close()


def test_a_silent_server_times_out() -> None:
    release = threading.Event()

    def answer(method: str, params: list[Any]) -> Any:
        release.wait(5)  # hold the request until the client gave up
        return None

    with serve(answer) as server:
        bundler = BundlerClient(server.url, timeout=0.2)
        try:
            with pytest.raises(RpcUnavailableError, match="did not answer in time"):
                bundler.chain_id()
        finally:
            release.set()
            bundler.close()


def test_send_estimate_and_lookups_speak_v07() -> None:
    seen: dict[str, list[Any]] = {}

    def answer(method: str, params: list[Any]) -> Any:
        seen[method] = params
        return {
            "eth_sendUserOperation": HASH,
            "eth_estimateUserOperationGas": {
                "preVerificationGas": "0xc350", "verificationGasLimit": "0x30d40", "callGasLimit": "0x186a0",
                "paymasterVerificationGasLimit": "0x1", "paymasterPostOpGasLimit": "0x2",
            },
            "eth_supportedEntryPoints": [EP.lower()],
            "eth_getUserOperationByHash": {
                "userOperation": OP.to_rpc(), "entryPoint": EP, "blockNumber": "0x1", "blockHash": HASH,
                "transactionHash": HASH,
            },
            "eth_chainId": "0x7a69",
        }[method]  # fmt: skip

    with serve(answer) as server, BundlerClient(server.url) as bundler:
        assert bundler.send_user_operation(OP, EP) == bytes.fromhex("ab" * 32)
        assert seen["eth_sendUserOperation"] == [OP.to_rpc(), EP]
        estimate = bundler.estimate_user_operation_gas(OP, EP)
        assert (estimate.pre_verification_gas, estimate.verification_gas_limit, estimate.call_gas_limit) == (
            50_000, 200_000, 100_000,
        )  # fmt: skip
        assert estimate.apply(OP).paymaster_verification_gas_limit == 0  # no paymaster: not applied
        assert estimate.apply(OP.replace(paymaster=EP)).paymaster_post_op_gas_limit == 2
        assert bundler.supported_entry_points() == [EP]
        found = bundler.get_user_operation_by_hash(HASH)
        assert found is not None and found["userOperation"] == OP
        assert bundler.chain_id() == 31337


def test_lookups_of_unknown_hashes_return_none() -> None:
    with serve(lambda m, p: None) as server, BundlerClient(server.url) as bundler:
        assert bundler.get_user_operation_receipt(HASH) is None
        assert bundler.get_user_operation_by_hash(HASH) is None


def test_wait_for_receipt_polls_until_included() -> None:
    calls = {"n": 0}

    def answer(method: str, params: list[Any]) -> Any:
        calls["n"] += 1
        return None if calls["n"] < 3 else {"userOpHash": params[0], "success": True, "receipt": {}}

    with serve(answer) as server, BundlerClient(server.url) as bundler:
        receipt = bundler.wait_for_receipt(HASH, timeout=10, poll_interval=0.01)
    assert receipt["success"] is True and calls["n"] == 3


def test_wait_for_receipt_raises_on_a_reverted_op() -> None:
    receipt = {"userOpHash": HASH, "success": False, "reason": "0x08c379a0"}
    with (
        serve(lambda m, p: receipt) as server,
        BundlerClient(server.url) as bundler,
        pytest.raises(UserOperationFailedError) as info,
    ):
        bundler.wait_for_receipt(HASH, timeout=5)
        assert info.value.receipt == receipt and info.value.user_op_hash == HASH
        assert bundler.wait_for_receipt(HASH, timeout=5, check=False) == receipt


def test_wait_for_receipt_times_out() -> None:
    with (
        serve(lambda m, p: None) as server,
        BundlerClient(server.url) as bundler,
        pytest.raises(UserOperationTimeoutError, match="not included within 0.2 s"),
    ):
        bundler.wait_for_receipt(HASH, timeout=0.2, poll_interval=0.02)
    assert len(server.requests) >= 2


def test_gas_fees_from_pimlico_or_none() -> None:
    tiers = {"standard": {"maxFeePerGas": "0x10", "maxPriorityFeePerGas": "0x2"}}
    with serve(lambda m, p: tiers) as server, BundlerClient(server.url) as bundler:
        fees = bundler.gas_fees()
    assert fees is not None and (fees.max_fee_per_gas, fees.max_priority_fee_per_gas) == (16, 2)

    def missing(method: str, params: list[Any]) -> Any:
        raise RpcFault(-32601, "Method not found")

    with serve(missing) as server, BundlerClient(server.url) as bundler:
        assert bundler.gas_fees() is None


def test_erc7677_paymaster_hooks() -> None:
    seen: dict[str, list[Any]] = {}

    def answer(method: str, params: list[Any]) -> Any:
        seen[method] = params
        if method == "pm_getPaymasterStubData":
            return {"paymaster": EP.lower(), "paymasterData": "0x01", "paymasterVerificationGasLimit": "0x64",
                    "paymasterPostOpGasLimit": "0x32", "isFinal": False, "sponsor": {"name": "t"}}  # fmt: skip
        raise RpcFault(-32501, "AA34 signature error")

    with serve(answer) as server:
        paymaster = PaymasterClient(server.url, context={"policy": "x"})
        stub = paymaster.stub_data(OP, EP, 31337)
        op = stub.apply(OP)
        assert (op.paymaster, op.paymaster_data) == (EP, b"\x01")
        assert (op.paymaster_verification_gas_limit, op.paymaster_post_op_gas_limit) == (100, 50)
        assert stub.sponsor == {"name": "t"} and stub.is_final is False
        sent_op, entry_point, chain, context = seen["pm_getPaymasterStubData"]
        assert "signature" not in sent_op and sent_op["sender"] == OP.sender
        assert (entry_point, chain, context) == (EP, "0x7a69", {"policy": "x"})
        with pytest.raises(PaymasterRejectedError) as info:
            paymaster.data(op, EP, 31337)
        assert info.value.aa_code == "AA34"
        paymaster.close()


def test_node_call_revert_is_a_contract_call_error() -> None:
    def answer(method: str, params: list[Any]) -> Any:
        raise RpcFault(3, "execution reverted", "0x5e7ad9a8")

    with serve(answer) as server:
        node = NodeClient(server.url)
        with pytest.raises(ContractCallError) as info:
            node.call(EP, b"\x35\x56\x7e\x1a")
        assert info.value.code == 3 and info.value.data == "0x5e7ad9a8"
        node.close()
