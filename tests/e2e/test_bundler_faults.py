"""The bundler's answers lost on the way: a loopback JSON-RPC proxy in front of the real Alto drops chosen
answers. A signed op whose fate is unknown comes back to the caller (UserOperationInDoubtError, with its hash
and the signed op); waiting for it or sending it again is safe, and the action runs exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from demo.onchain import INCREMENT, Chain
from signers.aa import (
    BundlerClient,
    BundlerError,
    Call,
    UserOperationInDoubtError,
    UserOperationTimeoutError,
    send_session_user_operation,
)
from tests.aa.rpc_server import Reply, Server, serve
from tests.e2e.conftest import Granted

BAD_GATEWAY = Reply(502, b"<html>502 Bad Gateway</html>", "text/html")


class LossyProxy:
    """Forwards every JSON-RPC request to the real bundler, except those a test asked to lose:
    ``lose_answer[method] = n`` forwards the next n calls but answers 502 (the bundler acted, the caller
    cannot know); ``lose_request[method] = n`` answers 502 without forwarding (the bundler never saw it)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.lose_answer: dict[str, int] = {}
        self.lose_request: dict[str, int] = {}
        self.lost: list[str] = []

    def _take(self, table: dict[str, int], method: str) -> bool:
        if table.get(method, 0) > 0:
            table[method] -= 1
            self.lost.append(method)
            return True
        return False

    def __call__(self, method: str, params: list[Any]) -> Reply:
        if self._take(self.lose_request, method):
            return BAD_GATEWAY
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        response = httpx.post(self.upstream, json=payload, timeout=30)
        if self._take(self.lose_answer, method):
            return BAD_GATEWAY
        return Reply(response.status_code, response.content)


@pytest.fixture
def proxy(chain: Chain) -> Iterator[tuple[LossyProxy, Server, BundlerClient]]:
    lossy = LossyProxy(chain.bundler.rpc.url)
    with serve(lossy) as server:
        bundler = BundlerClient(server.url)
        try:
            yield lossy, server, bundler
        finally:
            bundler.close()


def _increment(g: Granted, bundler: BundlerClient, counter: str, **options: Any) -> Any:
    return send_session_user_operation(
        g.account, g.session_key, bundler, g.permission_id, [Call(counter, 0, INCREMENT)], **options
    )


def _in_doubt(action: Callable[[], Any]) -> UserOperationInDoubtError:
    with pytest.raises(UserOperationInDoubtError) as caught:
        action()
    error = caught.value
    assert error.user_op_hash.startswith("0x") and len(error.user_op_hash) == 66
    assert error.user_operation.signature  # the signed op itself, ready to send again
    assert "sign a new op" in error.hint
    return error


def test_lost_answer_to_send_the_op_still_lands_once(
    chain: Chain, granted: Granted, counter: str, proxy: tuple[LossyProxy, Server, BundlerClient]
) -> None:
    lossy, _, bundler = proxy
    lossy.lose_answer["eth_sendUserOperation"] = 1
    error = _in_doubt(lambda: _increment(granted, bundler, counter))
    assert lossy.lost == ["eth_sendUserOperation"]

    receipt = chain.bundler.wait_for_receipt(error.user_op_hash, timeout=60)  # it had reached the bundler
    assert receipt["success"] is True and chain.counter_value(counter) == 1
    with pytest.raises(BundlerError, match="AA25|already"):  # sent again: refused, it cannot run twice
        chain.bundler.send_user_operation(error.user_operation, chain.book.entry_point)
    assert chain.counter_value(counter) == 1


def test_request_that_never_arrived_is_sent_again_unchanged(
    chain: Chain, granted: Granted, counter: str, proxy: tuple[LossyProxy, Server, BundlerClient]
) -> None:
    lossy, _, bundler = proxy
    lossy.lose_request["eth_sendUserOperation"] = 1
    error = _in_doubt(lambda: _increment(granted, bundler, counter))
    with pytest.raises(UserOperationTimeoutError) as waited:
        chain.bundler.wait_for_receipt(error.user_op_hash, timeout=1.0)  # the bundler never saw it
    assert waited.value.user_op_hash == error.user_op_hash

    sent = chain.bundler.send_user_operation(error.user_operation, chain.book.entry_point)  # no new signature
    assert "0x" + sent.hex() == error.user_op_hash
    assert chain.bundler.wait_for_receipt(sent, timeout=60)["success"] is True
    assert chain.counter_value(counter) == 1


def test_receipts_unreachable_for_a_while_are_waited_out(
    chain: Chain, granted: Granted, counter: str, proxy: tuple[LossyProxy, Server, BundlerClient]
) -> None:
    lossy, server, bundler = proxy
    lossy.lose_request["eth_getUserOperationReceipt"] = 3
    result = _increment(granted, bundler, counter)
    assert result.receipt is not None and result.receipt["success"] is True
    assert lossy.lost == ["eth_getUserOperationReceipt"] * 3
    assert server.methods().count("eth_getUserOperationReceipt") >= 4
    assert chain.counter_value(counter) == 1


def test_timeout_hands_back_the_signed_op(
    chain: Chain, granted: Granted, counter: str, proxy: tuple[LossyProxy, Server, BundlerClient]
) -> None:
    lossy, _, bundler = proxy
    lossy.lose_request["eth_getUserOperationReceipt"] = 10**6  # the bundler is unreachable from now on
    with pytest.raises(UserOperationTimeoutError) as caught:
        _increment(granted, bundler, counter, timeout=1.0)
    error = caught.value
    assert "last answer" in str(error) and "HTTP 502" in str(error)
    assert error.user_operation is not None and error.user_operation.signature
    # the op was sent before the bundler became unreachable: it landed, and its hash finds it
    assert chain.bundler.wait_for_receipt(error.user_op_hash, timeout=60)["success"] is True
    assert chain.counter_value(counter) == 1
