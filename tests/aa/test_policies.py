"""The policy list (signers.aa.policies) and the flows' one options value (SendOptions)."""

from __future__ import annotations

import dataclasses

import pytest
from eth_abi import encode
from eth_abi.packed import encode_packed

from signers.aa import (
    CANONICAL,
    POLICIES,
    ActionPolicyInfo,
    AddressBook,
    CreateSessionDataParams,
    ParamCondition,
    Rule,
    SendOptions,
    TokenLimit,
    prepare_sessions,
)
from signers.aa.flows import SendKeywords, send_options
from signers.aa.policies import TIME_FRAME, policies_at

TOKEN = "0x" + "11" * 20
KEY = "0x" + "22" * 20


def test_every_policy_address_of_the_book_has_one_policy_object() -> None:
    fields = {f.name for f in dataclasses.fields(AddressBook) if f.name.endswith("_policy")}
    assert sorted(p.book_field for p in POLICIES) == sorted(fields)
    known = policies_at(CANONICAL)
    assert set(known) == {getattr(CANONICAL, name) for name in fields}
    assert all(known[p.address(CANONICAL)] is p for p in POLICIES)
    other = CANONICAL.with_overrides(time_frame_policy="0x" + "42" * 20)
    assert policies_at(other)["0x" + "42" * 20] is TIME_FRAME and CANONICAL.time_frame_policy not in policies_at(other)


def test_an_action_gets_its_policies_in_the_sdk_order_with_their_init_data() -> None:
    rules = [Rule(ParamCondition.LESS_THAN_OR_EQUAL, 1, 100)]
    info = ActionPolicyInfo(
        TOKEN, "0xa9059cbb", rules=rules, sudo=True, valid_until=2000, valid_after=1000, value_limit=7,
        usage_limit=3, token_limits=[TokenLimit(TOKEN, 50)],
    )  # fmt: skip
    prepared = prepare_sessions(CreateSessionDataParams(KEY, [info], salt=bytes(32)), now=0)
    (action,) = prepared.sessions[0].actions
    book = CANONICAL
    assert [p.policy for p in action.action_policies] == [
        book.time_frame_policy, book.uni_action_policy, book.sudo_policy, book.value_limit_policy,
        book.usage_limit_policy, book.erc20_spending_limit_policy,
    ]  # fmt: skip
    data = [p.init_data for p in action.action_policies]
    # each against eth-abi, written out here rather than through the library's encoders
    assert data[0] == encode_packed(["uint48", "uint48"], [2000, 1000])
    zero_rule = (0, 0, False, bytes(32), (0, 0))
    rule = (int(ParamCondition.LESS_THAN_OR_EQUAL), 32, False, (100).to_bytes(32, "big"), (0, 0))
    config = "(uint256,(uint256,(uint8,uint64,bool,bytes32,(uint256,uint256))[16]))"
    assert data[1] == encode([config], [(7, (1, [rule] + [zero_rule] * 15))])
    assert data[2] == b""
    assert data[3] == encode(["uint256"], [7])
    assert data[4] == encode_packed(["uint128"], [3])
    assert data[5] == encode(["address[]", "uint256[]"], [[TOKEN], [50]])


def test_an_action_without_rules_is_sudo_and_limits_only_when_asked() -> None:
    info = ActionPolicyInfo(TOKEN, "0xa9059cbb", valid_until=2000)
    prepared = prepare_sessions(CreateSessionDataParams(KEY, [info], salt=bytes(32)), now=0)
    (action,) = prepared.sessions[0].actions
    assert [p.policy for p in action.action_policies] == [CANONICAL.time_frame_policy, CANONICAL.sudo_policy]
    assert TIME_FRAME.frame(action.action_policies[0].init_data) == (2000, 0)


def test_send_options_keywords_and_the_value_agree() -> None:
    assert set(SendKeywords.__annotations__) == {f.name for f in dataclasses.fields(SendOptions)}
    shared = SendOptions(wait=False, max_cost_wei=10**15)
    assert send_options(shared, {}) is shared
    assert send_options(None, {}) == SendOptions()
    merged = send_options(shared, {"timeout": 5.0, "max_cost_wei": 1})
    assert (merged.wait, merged.timeout, merged.max_cost_wei) == (False, 5.0, 1)
    assert shared.max_cost_wei == 10**15  # the shared value is not changed
    with pytest.raises(TypeError):
        send_options(None, {"nonce": 1})  # a misspelt keyword fails as it did before
    with pytest.raises(dataclasses.FrozenInstanceError):
        shared.wait = True  # type: ignore[misc]


def test_send_options_nonce_key() -> None:
    assert SendOptions(nonce_key=7).nonce_key_to_use() == 7
    keys = {SendOptions(parallel=True, nonce_key=7).nonce_key_to_use() for _ in range(4)}
    assert 7 not in keys and len(keys) == 4  # a fresh random key each time
    assert SendOptions(nonce_key=None).nonce_key_to_use() != SendOptions(nonce_key=None).nonce_key_to_use()
