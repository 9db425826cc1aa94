"""What a session op may cost, and what a revoked session key may still sign, on the real chain stack.

A hostile bundler (a loopback JSON-RPC proxy in front of the real Alto) answers fees of 2**127 for in-scope
session ops: the scope check refuses them under the session's bound (granted with the session, or the
default) before the session key in SoftHSM is asked, and the refusal is in the audit trail. The same op at
the real bundler's fees lands. A session key whose permission was revoked on chain stays a session key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from demo.onchain import INCREMENT, Chain
from signers.aa import (
    DEFAULT_SESSION_MAX_COST_WEI,
    SCOPES,
    BundlerClient,
    Call,
    NexusAccount,
    ScopeViolationError,
    SessionCostError,
    UserOperation,
    grant_permission,
    revoke_permission,
    send_session_user_operation,
)
from signers.aa.sessions import ActionPolicyInfo, CreateSessionDataParams
from signers.audit import AuditTrail
from signers.signer import Signer
from tests.aa.rpc_server import Reply, Server, serve
from tests.e2e.conftest import Granted
from tests.e2e.helpers import spy_on_device

GREEDY_FEE = hex(2**127)


class GreedyBundler:
    """The real Alto behind it, except that it asks for fees of 2**127 (and estimates as if they were sane)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream

    def __call__(self, method: str, params: list[Any]) -> Any:
        if method == "pimlico_getUserOperationGasPrice":
            tier = {"maxFeePerGas": GREEDY_FEE, "maxPriorityFeePerGas": GREEDY_FEE}
            return {"slow": tier, "standard": tier, "fast": tier}
        if method == "eth_estimateUserOperationGas":
            real = self._forward("pimlico_getUserOperationGasPrice", [])["result"]["standard"]
            params = [{**params[0], **real}, *params[1:]]
        return Reply(200, httpx.post(self.upstream, json=self._payload(method, params), timeout=30).content)

    def _payload(self, method: str, params: list[Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}

    def _forward(self, method: str, params: list[Any]) -> Any:
        return httpx.post(self.upstream, json=self._payload(method, params), timeout=30).json()


@pytest.fixture
def greedy(chain: Chain) -> Iterator[tuple[Server, BundlerClient]]:
    with serve(GreedyBundler(chain.bundler.rpc.url)) as server:
        bundler = BundlerClient(server.url)
        try:
            yield server, bundler
        finally:
            bundler.close()


def test_fees_of_2_127_are_refused_under_the_default_bound(
    chain: Chain,
    granted: Granted,
    counter: str,
    greedy: tuple[Server, BundlerClient],
    audit: AuditTrail,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g, (server, bundler) = granted, greedy
    device = spy_on_device(monkeypatch, g.session_key)
    with pytest.raises(SessionCostError, match=f"over the default bound {DEFAULT_SESSION_MAX_COST_WEI} wei"):
        send_session_user_operation(g.account, g.session_key, bundler, g.permission_id, [Call(counter, 0, INCREMENT)])
    assert device == []  # the HSM was never asked
    assert "eth_sendUserOperation" not in server.methods()
    refusals = audit.entries(address=g.session_key.address, outcome="refused")
    assert [e for e in refusals if "default bound" in str(e.reason)], refusals

    # the same op at the real bundler's fees is within the default bound, and lands
    result = send_session_user_operation(
        g.account, g.session_key, chain.bundler, g.permission_id, [Call(counter, 0, INCREMENT)]
    )
    assert result.receipt is not None and result.receipt["success"] is True
    assert chain.counter_value(counter) == 1
    assert 0 < result.user_operation.max_cost_wei <= DEFAULT_SESSION_MAX_COST_WEI
    print(f"session op on the local chain: max cost {result.user_operation.max_cost_wei} wei")


@pytest.mark.usefixtures("installed")
def test_a_bound_granted_with_the_session_is_the_one_that_holds(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    counter: str,
    greedy: tuple[Server, BundlerClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, bundler = greedy
    bound = DEFAULT_SESSION_MAX_COST_WEI * 10  # above the default: the grant says so
    params = CreateSessionDataParams(session_public_key=session_key.address,
                                     action_policies_info=[ActionPolicyInfo(counter, INCREMENT)])  # fmt: skip
    grant = grant_permission(account, owner, chain.bundler, params, session_max_cost_wei=bound)
    (pid,) = grant.permission_ids
    scope = SCOPES.get(pid)
    assert scope is not None and scope.max_cost_wei == bound
    device = spy_on_device(monkeypatch, session_key)
    with pytest.raises(SessionCostError, match=f"over the bound {bound} wei registered with session 0x{pid.hex()}"):
        send_session_user_operation(account, session_key, bundler, pid, [Call(counter, 0, INCREMENT)])
    # a per-call bound tightens it: the real bundler's op, refused under a bound of 1 wei
    with pytest.raises(SessionCostError, match="over the per-call bound 1 wei"):
        send_session_user_operation(account, session_key, chain.bundler, pid, [Call(counter, 0, INCREMENT)],
                                    max_cost_wei=1)  # fmt: skip
    assert device == []
    result = send_session_user_operation(account, session_key, chain.bundler, pid, [Call(counter, 0, INCREMENT)])
    assert result.receipt is not None and result.receipt["success"] is True
    assert chain.counter_value(counter) == 1


def test_a_revoked_session_key_still_signs_only_checked_session_ops(
    chain: Chain, granted: Granted, owner: Signer, counter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = granted
    revoked = revoke_permission(g.account, owner, chain.bundler, g.permission_id)
    assert revoked.receipt is not None and revoked.receipt["success"] is True
    assert g.account.is_permission_enabled(g.permission_id) is False
    device = spy_on_device(monkeypatch, g.session_key)
    # an op for the owner validator, signed by the (former) session key: nothing says "session op"
    owner_validation = g.account.owner_validation()
    op = UserOperation(
        sender=g.account.address,
        nonce=g.account.get_nonce(owner_validation.validator),
        call_data=g.account.encode_calls([Call(counter, 0, INCREMENT)]),
    )
    with pytest.raises(ScopeViolationError, match="is a session key"):
        g.account.sign_user_operation(op, g.session_key, owner_validation)
    with pytest.raises(ScopeViolationError, match="not known locally"):
        send_session_user_operation(g.account, g.session_key, chain.bundler, g.permission_id,
                                    [Call(counter, 0, INCREMENT)])  # fmt: skip
    assert device == []
