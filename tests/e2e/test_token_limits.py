"""ERC-20 spending limits (ActionPolicyInfo.token_limits) end to end: owner key in LocalStack KMS, session key in
SoftHSM, the real SmartSession module calling ERC20SpendingLimitPolicy at its canonical address (chain/README.md).

The spent amount is on-chain state: the local scope check reads it through the node (signers/aa/limits.py) and
refuses an op beyond the limit before signing; sent without the check, the chain refuses it in the bundler's
validation.
"""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector as selector
from eth_utils import keccak

from demo.onchain import Chain, audit_mismatches
from signers.aa import (
    SCOPES,
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    NexusAccount,
    TokenLimit,
    UserOperationRejectedError,
    grant_permission,
    send_session_user_operation,
)
from signers.aa.errors import SessionLimitError
from signers.aa.scope import check_scope
from signers.audit import AuditTrail
from signers.signer import Signer
from tests.e2e.helpers import TRANSFER, balance_of, draft, signed, transfer
from tests.fixtures.chain import ChainStack

LIMIT = 100


def policy_data(chain: Chain, policy: str, account: str, permission_id: bytes, token: str) -> tuple[int, int, int]:
    """ERC20SpendingLimitPolicy.getPolicyData for the (permission, token.transfer) action of ``account``: SmartSession's
    config id is keccak(account ‖ keccak(permissionId ‖ keccak(target ‖ selector))) (smartsessions IdLib)."""
    action_id = keccak(bytes.fromhex(token[2:]) + TRANSFER)
    config_id = keccak(bytes.fromhex(account[2:]) + keccak(permission_id + action_id))
    out = chain.node.call(
        policy,
        selector("getPolicyData(bytes32,address,address,address)")
        + encode(["bytes32", "address", "address", "address"], [config_id, chain.book.smart_sessions, token, account]),
    )
    limit, spent, approved = decode(["uint256", "uint256", "uint256"], out)
    return int(limit), int(spent), int(approved)


@pytest.mark.usefixtures("installed")
def test_token_limit_spent_in_two_ops_then_refused_by_the_chain(
    chain: Chain,
    chain_stack: ChainStack,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    token: str,
    recipient: str,
    audit: AuditTrail,
) -> None:
    policy = chain.book.erc20_spending_limit_policy
    assert policy == chain_stack.policies["erc20_spending_limit"]  # the canonical address, deployed by the stack
    assert balance_of(chain, token, account.address) == 500

    params = CreateSessionDataParams(
        session_public_key=session_key.address,
        action_policies_info=[ActionPolicyInfo(token, TRANSFER, token_limits=[TokenLimit(token, LIMIT)])],
    )
    granted = grant_permission(account, owner, chain.bundler, params)
    assert granted.receipt is not None and granted.receipt["success"] is True
    (pid,) = granted.permission_ids
    assert account.is_permission_enabled(pid) is True
    (action,) = granted.sessions[0].actions
    assert [p.policy for p in action.action_policies][-1] == policy  # TimeFrame, Sudo, then the spending limit
    assert policy_data(chain, policy, account.address, pid, token) == (LIMIT, 0, 0)

    def send(amount: int, scope_check: bool = True) -> None:
        result = send_session_user_operation(
            account, session_key, chain.bundler, pid, [Call(token, 0, transfer(recipient, amount))],
            scope_check=scope_check,
        )  # fmt: skip
        assert result.receipt is not None and result.receipt["success"] is True

    send(60)
    assert (balance_of(chain, token, account.address), balance_of(chain, token, recipient)) == (440, 60)
    assert policy_data(chain, policy, account.address, pid, token) == (LIMIT, 60, 0)
    send(40)
    assert (balance_of(chain, token, account.address), balance_of(chain, token, recipient)) == (400, 100)
    assert policy_data(chain, policy, account.address, pid, token) == (LIMIT, LIMIT, 0)

    # one more unit: the grant alone (check_scope) does not know what was spent and lets the op through ...
    scope = SCOPES.get(pid)
    assert scope is not None
    one_more = draft(account, pid, [Call(token, 0, transfer(recipient, 1))])
    check_scope(one_more, scope, chain_id=chain.chain_id)  # does not raise
    # ... the limits read through the node refuse it before signing (tests/e2e/test_limits_onchain.py) ...
    with pytest.raises(SessionLimitError, match="limit 100 token units, 100 used, 0 left"):
        send(1)
    # ... and without the local check SmartSession refuses it in validation: the policy answers VALIDATION_FAILED,
    # SmartSession reverts (AA23), already in the bundler's gas estimation, so the session key never signs it
    with pytest.raises(UserOperationRejectedError) as rejected:
        send(1, scope_check=False)
    assert rejected.value.aa_code == "AA23"
    # the revert data is SmartSession's PolicyViolation(bytes32 permissionId, address policy), naming this policy
    violation = selector("PolicyViolation(bytes32,address)") + encode(["bytes32", "address"], [pid, policy])
    assert "0x" + violation.hex() in str(rejected.value)
    assert (balance_of(chain, token, account.address), balance_of(chain, token, recipient)) == (400, 100)
    assert policy_data(chain, policy, account.address, pid, token) == (LIMIT, LIMIT, 0)

    assert len(signed(audit, session_key)) == 2
    assert audit_mismatches(audit.entries(), chain.bundler) == []
