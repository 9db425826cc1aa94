"""The flows end to end on the local chain (anvil + EntryPoint v0.7 + Nexus 1.0.1 + Smart Sessions + Alto).

Owner and session keys are local-backend Signers; every op goes through the real bundler and EntryPoint.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector

from signers.aa import (
    CANONICAL,
    ActionPolicyInfo,
    BundlerClient,
    Call,
    CreateSessionDataParams,
    NexusAccount,
    NodeClient,
    ScopeViolationError,
    UserOperationRejectedError,
    grant_permission,
    install_smart_sessions,
    is_smart_sessions_installed,
    revoke_permission,
    send_session_user_operation,
    split_nonce,
)
from signers.hashing import personal_sign_hash
from signers.signature import Signature

from .gen import private_key

INCREMENT = function_signature_to_4byte_selector("increment()")
SET_NUMBER = function_signature_to_4byte_selector("setNumber(uint256)")
NUMBER = function_signature_to_4byte_selector("number()")


def counter_value(node: NodeClient, counter: str) -> int:
    (value,) = decode(["uint256"], node.call(counter, NUMBER))
    return int(value)


def test_install_grant_use_revoke_on_nexus(chain_stack: Any, make_signer: Any) -> None:
    import random

    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    node = NodeClient(chain_stack.rpc_url)
    bundler = BundlerClient(chain_stack.bundler_url)
    owner = make_signer(private_key(rng))
    session_key = make_signer(private_key(rng))
    book = CANONICAL.with_overrides(
        entry_point=chain_stack.entry_point,
        smart_sessions=chain_stack.smart_sessions,
        ownable_validator=chain_stack.ownable_validator,
    )
    account = NexusAccount.for_owner(
        owner.address,
        node=node,
        owner_validator=chain_stack.k1_validator,
        bootstrap=chain_stack.nexus_bootstrap,
        factory=chain_stack.nexus_factory,
        salt=rng.getrandbits(64),
        chain_id=chain_stack.chain_id,
        addresses=book,
    )
    chain_stack.fund(account.address)  # waits for the receipt: the bundler must see the prefund (AA21 otherwise)
    assert bundler.supported_entry_points() == [book.entry_point]

    # install (deploys the account in the same op)
    assert is_smart_sessions_installed(account) is False
    installed = install_smart_sessions(account, owner, bundler)
    assert installed.receipt is not None and installed.receipt["success"] is True
    assert installed.user_operation.factory == chain_stack.nexus_factory
    digest = personal_sign_hash(account.user_op_hash(installed.user_operation))
    assert Signature.from_bytes(installed.user_operation.signature).recover(digest) == owner.address
    assert is_smart_sessions_installed(account) is True

    # grant: increment() only
    params = CreateSessionDataParams(
        session_public_key=session_key.address,
        action_policies_info=[ActionPolicyInfo(chain_stack.counter, INCREMENT)],
    )
    granted = grant_permission(account, owner, bundler, params)
    (pid,) = granted.permission_ids
    assert granted.receipt is not None and granted.receipt["success"] is True
    assert account.is_permission_enabled(pid) is True

    # use, signed by the session key only
    before = counter_value(node, chain_stack.counter)
    used = send_session_user_operation(account, session_key, bundler, pid, [Call(chain_stack.counter, 0, INCREMENT)])
    assert used.receipt is not None and used.receipt["success"] is True
    assert split_nonce(used.user_operation.nonce)[2] == book.smart_sessions
    assert counter_value(node, chain_stack.counter) == before + 1
    digest = personal_sign_hash(account.user_op_hash(used.user_operation))
    assert Signature.from_bytes(used.user_operation.signature[33:]).recover(digest) == session_key.address

    # two session ops in flight at once, on their own nonce keys
    pending = [
        send_session_user_operation(
            account, session_key, bundler, pid, [Call(chain_stack.counter, 0, INCREMENT)], parallel=True, wait=False
        )
        for _ in range(2)
    ]
    assert split_nonce(pending[0].user_operation.nonce)[0] != split_nonce(pending[1].user_operation.nonce)[0]
    for p in pending:
        assert bundler.wait_for_receipt(p.user_op_hash, timeout=60)["success"] is True
    assert counter_value(node, chain_stack.counter) == before + 3

    # out of scope: refused locally, nothing reaches the bundler
    with pytest.raises(ScopeViolationError, match="call #0"):
        send_session_user_operation(
            account, session_key, bundler, pid, [Call(chain_stack.counter, 0, SET_NUMBER + bytes(32))]
        )

    # revoke; the chain then refuses the session
    revoked = revoke_permission(account, owner, bundler, pid)
    assert revoked.receipt is not None and revoked.receipt["success"] is True
    assert account.is_permission_enabled(pid) is False
    with pytest.raises(UserOperationRejectedError) as info:
        send_session_user_operation(
            account, session_key, bundler, pid, [Call(chain_stack.counter, 0, INCREMENT)], scope_check=False
        )
    assert info.value.code == -32500 or info.value.aa_code is not None
    bundler.close()
    node.close()
