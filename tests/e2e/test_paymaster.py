"""Sponsored UserOperations: the reference VerifyingPaymaster of @account-abstraction/contracts 0.7.0 on the
local chain, its verifying key in the Cloud KMS emulator, the owner key in LocalStack KMS and the session key
in SoftHSM. The account never holds any ETH: the paymaster's EntryPoint deposit pays for everything.

The approval hash is checked against the contract's own ``getHash`` (the independent source), and the
refusals come from the EntryPoint through the real bundler.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

import signers
from demo.onchain import INCREMENT, Chain, audit_mismatches
from signers.aa import (
    ActionPolicyInfo,
    BundlerError,
    Call,
    CreateSessionDataParams,
    NexusAccount,
    OutOfTimeRangeError,
    PackedUserOperation,
    PaymasterClient,
    ScopeViolationError,
    SponsorshipRefusedError,
    UserOperation,
    UserOperationResult,
    VerifyingPaymaster,
    decode_validity,
    grant_permission,
    install_smart_sessions,
    send_session_user_operation,
    verifying_paymaster_hash,
)
from signers.audit import AuditTrail
from signers.hashing import personal_sign_hash
from signers.signature import Signature
from signers.signer import Signer
from tests.aa.rpc_server import serve

GET_HASH = function_signature_to_4byte_selector(f"getHash({PackedUserOperation.ABI_TYPE},uint48,uint48)")


@pytest.fixture
def paymaster_key(gcp_kms_uri: str, audit: AuditTrail) -> Iterator[Signer]:
    with signers.load_signer(gcp_kms_uri) as signer:
        yield signer


@pytest.fixture
def paymaster(chain: Chain, paymaster_key: Signer) -> VerifyingPaymaster:
    address = chain.deploy_verifying_paymaster(paymaster_key.address, deposit_wei=10**18)
    assert chain.deposit_of(address) == 10**18
    return VerifyingPaymaster(address, paymaster_key)


@pytest.fixture
def unfunded_account(chain: Chain, owner: Signer) -> NexusAccount:
    account = chain.new_account(owner.address)
    assert chain.node.get_balance(account.address) == 0
    return account


def on_chain_hash(chain: Chain, paymaster: str, op: UserOperation, valid_until: int, valid_after: int) -> bytes:
    packed = op.replace(signature=b"").packed()
    args = encode([PackedUserOperation.ABI_TYPE, "uint48", "uint48"], [packed.as_tuple(), valid_until, valid_after])
    return chain.node.call(paymaster, GET_HASH + args)


def assert_sponsored(chain: Chain, paymaster: VerifyingPaymaster, result: UserOperationResult) -> int:
    """The op landed, paid by ``paymaster``, with an approval the contract itself hashes the same; its cost."""
    receipt = result.receipt
    assert receipt is not None and receipt["success"] is True
    assert receipt["paymaster"].lower() == paymaster.address.lower()
    op = result.user_operation
    valid_until, valid_after, approval = decode_validity(op.paymaster_data)
    assert valid_after == 0 and valid_until > time.time()
    ours = verifying_paymaster_hash(op, paymaster.address, chain.chain_id, valid_until, valid_after)
    assert ours == on_chain_hash(chain, paymaster.address, op, valid_until, valid_after)
    assert Signature.from_bytes(approval).recover(personal_sign_hash(ours)) == paymaster.signer.address
    return int(receipt["actualGasCost"], 16)


def test_install_grant_and_session_ops_all_sponsored(
    chain: Chain,
    unfunded_account: NexusAccount,
    owner: Signer,
    session_keys: Callable[[], Signer],
    counter: str,
    paymaster: VerifyingPaymaster,
    audit: AuditTrail,
) -> None:
    account, session_key = unfunded_account, session_keys()
    deposit = chain.deposit_of(paymaster.address)
    costs = [
        assert_sponsored(chain, paymaster, install_smart_sessions(account, owner, chain.bundler, paymaster=paymaster))
    ]
    params = CreateSessionDataParams(session_key.address, [ActionPolicyInfo(counter, INCREMENT)])
    granted = grant_permission(account, owner, chain.bundler, params, paymaster=paymaster)
    assert granted.sessions[0].permit_erc4337_paymaster is True  # the SDK's rule: granted with a paymaster
    costs.append(assert_sponsored(chain, paymaster, granted))
    for _ in range(2):
        result = send_session_user_operation(
            account,
            session_key,
            chain.bundler,
            granted.permission_ids[0],
            [Call(counter, 0, INCREMENT)],
            paymaster=paymaster,
        )
        costs.append(assert_sponsored(chain, paymaster, result))

    assert chain.counter_value(counter) == 2
    assert chain.node.get_balance(account.address) == 0  # the account never paid
    assert chain.deposit_of(paymaster.address) == deposit - sum(costs)
    approvals = audit.entries(address=paymaster.signer.address, outcome="signed")
    assert len(approvals) == 4 and {e.context["sponsored"] for e in approvals} == {account.address}
    assert all(e.kind == "message" and e.context["paymaster"] == paymaster.address for e in approvals)
    assert audit_mismatches(audit.entries(), chain.bundler) == []  # each approval is on its landed op


@pytest.mark.usefixtures("installed")
def test_session_granted_without_paymaster_cannot_use_one(
    chain: Chain, account: NexusAccount, owner: Signer, session_key: Signer, counter: str,
    paymaster: VerifyingPaymaster, audit: AuditTrail,
) -> None:  # fmt: skip
    params = CreateSessionDataParams(session_key.address, [ActionPolicyInfo(counter, INCREMENT)])
    granted = grant_permission(account, owner, chain.bundler, params)
    with pytest.raises(ScopeViolationError, match="without paymaster permission"):
        send_session_user_operation(
            account,
            session_key,
            chain.bundler,
            granted.permission_ids[0],
            [Call(counter, 0, INCREMENT)],
            paymaster=paymaster,
        )
    assert audit.entries(address=paymaster.signer.address) == []  # refused before the sponsor was asked to sign


def test_sponsor_policy_refuses_before_any_key_signs(
    chain: Chain, unfunded_account: NexusAccount, owner: Signer, paymaster: VerifyingPaymaster, audit: AuditTrail
) -> None:
    picky = VerifyingPaymaster(
        paymaster.address, paymaster.signer, sponsor=lambda op: op.sender != unfunded_account.address
    )
    with pytest.raises(SponsorshipRefusedError, match=unfunded_account.address):
        install_smart_sessions(unfunded_account, owner, chain.bundler, paymaster=picky)
    assert audit.entries() == [] and not unfunded_account.is_deployed()


@pytest.mark.parametrize(
    ("case", "error", "match"),
    [
        ("approved by another key", BundlerError, "AA34"),  # the EntryPoint: paymaster signature error
        ("approval expired", OutOfTimeRangeError, "validUntil"),  # the bundler checks validity first (-32503)
    ],
)
def test_the_entry_point_refuses_a_bad_approval(
    chain: Chain,
    unfunded_account: NexusAccount,
    owner: Signer,
    paymaster: VerifyingPaymaster,
    audit: AuditTrail,
    case: str,
    error: type[BundlerError],
    match: str,
) -> None:
    if case == "approved by another key":
        bad = VerifyingPaymaster(paymaster.address, owner)
    else:
        bad = VerifyingPaymaster(paymaster.address, paymaster.signer, valid_for=60, clock=lambda: time.time() - 3600)
    deposit = chain.deposit_of(paymaster.address)
    with pytest.raises(error, match=match):
        install_smart_sessions(unfunded_account, owner, chain.bundler, paymaster=bad)
    assert chain.deposit_of(paymaster.address) == deposit and not unfunded_account.is_deployed()
    signed = audit.entries(outcome="signed")
    assert [e.kind for e in signed] == ["message", "user_operation"]  # the approval, then the op
    assert len(audit_mismatches(signed, chain.bundler)) == 2  # neither is on chain...
    assert audit_mismatches(signed, chain.bundler, refused=signed) == []  # ...as the caller saw


def erc7677_answer(paymaster: VerifyingPaymaster) -> Callable[[str, list[Any]], Any]:
    """An ERC-7677 service in front of ``paymaster`` (what an operator would run for its clients)."""

    def answer(method: str, params: list[Any]) -> Any:
        rpc, entry_point, chain_id, _context = params
        op, chain = UserOperation.from_rpc(rpc), int(chain_id, 16)
        hook = paymaster.stub_data if method == "pm_getPaymasterStubData" else paymaster.data
        data = hook(op, entry_point, chain)
        return {
            "paymaster": data.paymaster,
            "paymasterData": "0x" + data.paymaster_data.hex(),
            "paymasterVerificationGasLimit": hex(data.paymaster_verification_gas_limit or 0),
            "paymasterPostOpGasLimit": hex(data.paymaster_post_op_gas_limit or 0),
        }

    return answer


def test_erc7677_client_against_a_service_backed_by_the_paymaster(
    chain: Chain, unfunded_account: NexusAccount, owner: Signer, paymaster: VerifyingPaymaster, audit: AuditTrail
) -> None:
    # an ERC-7677 service does not see the bundler's estimate: it fixes its own paymaster gas limits
    behind = VerifyingPaymaster(paymaster.address, paymaster.signer, verification_gas_limit=60_000, post_op_gas_limit=0)
    with serve(erc7677_answer(behind)) as server:
        client = PaymasterClient(server.url)
        try:
            result = install_smart_sessions(unfunded_account, owner, chain.bundler, paymaster=client)
        finally:
            client.close()
    assert_sponsored(chain, paymaster, result)
    assert audit_mismatches(audit.entries(), chain.bundler) == []
    assert server.methods() == ["pm_getPaymasterStubData", "pm_getPaymasterData"]
    assert result.user_operation.paymaster_verification_gas_limit == 60_000
    assert chain.node.get_balance(unfunded_account.address) == 0 and unfunded_account.is_deployed()
