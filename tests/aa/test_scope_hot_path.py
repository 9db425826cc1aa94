"""The scope check's faster forms decide as before: each parameter rule's truth table (written out, as
SmartSession's UniActionPolicy compares), an unknown condition refused as a scope violation, and the limits
readers a signed op invalidates (kept as a tuple, not listed under the lock)."""

from __future__ import annotations

import pytest
from eth_abi import encode

from signers.aa import CANONICAL, Call, ParamCondition, Rule, ScopeRegistry, ScopeViolationError, UserOperation
from signers.aa.policies import ACTION_CONFIG_ABI, MAX_RULES, CallUnderCheck, UniActionPolicy, uni_action_init_data
from signers.aa.sessions import ActionData, PolicyData

TOKEN = "0x2222222222222222222222222222222222222222"
ACCOUNT = "0x1111111111111111111111111111111111111111"
SELECTOR = bytes.fromhex("a9059cbb")
UNI = UniActionPolicy()

# value 4, 5, 6 against the reference 5: which ones the rule lets through
TRUTH = {
    ParamCondition.EQUAL: (False, True, False),
    ParamCondition.GREATER_THAN: (False, False, True),
    ParamCondition.LESS_THAN: (True, False, False),
    ParamCondition.GREATER_THAN_OR_EQUAL: (False, True, True),
    ParamCondition.LESS_THAN_OR_EQUAL: (True, True, False),
    ParamCondition.NOT_EQUAL: (True, False, True),
    ParamCondition.IN_RANGE: (True, True, True),  # left to the chain
}


def under_check(value: int) -> CallUnderCheck:
    call = Call(TOKEN, 0, SELECTOR + value.to_bytes(32, "big"))
    action = ActionData(SELECTOR, TOKEN, (PolicyData(CANONICAL.uni_action_policy, b""),))
    return CallUnderCheck(call, action, 0, 0, {})


@pytest.mark.parametrize("condition", list(ParamCondition))
def test_each_condition_lets_through_what_its_truth_table_says(condition: ParamCondition) -> None:
    init_data = uni_action_init_data([Rule(condition, 0, 5)])
    for value, allowed in zip((4, 5, 6), TRUTH[condition], strict=True):
        if allowed:
            UNI.check_call(init_data, under_check(value))
        else:
            with pytest.raises(ScopeViolationError, match=f"call #0 .* breaks rule {condition.name} 0x0+5 \\(") as info:
                UNI.check_call(init_data, under_check(value))
            assert info.value.call_index == 0


def test_an_unknown_condition_is_refused_as_a_scope_violation() -> None:
    """A grant whose rule has a condition the library does not know (9) is refused, and the refusal is a
    ScopeViolationError that says so (naming the unknown condition raised a ValueError before)."""
    rows = [(9, 0, False, (5).to_bytes(32, "big"), (0, 0))] + [(0, 0, False, bytes(32), (0, 0))] * (MAX_RULES - 1)
    init_data = encode([ACTION_CONFIG_ABI], [(0, (1, rows))])
    for value in (4, 5, 6):
        with pytest.raises(ScopeViolationError, match=r"breaks rule condition 9 \(unknown\)"):
            UNI.check_call(init_data, under_check(value))


def test_a_signed_op_invalidates_what_every_reader_cached_for_its_sender() -> None:
    registry = ScopeRegistry()
    first = registry.limits_for(None)
    later = None
    op = UserOperation(sender=ACCOUNT, nonce=0)
    for round_ in range(2):
        if round_ == 1:  # a reader made after the first signed op is invalidated too
            later = registry.limits_for(None, "open")
        readers = [first] + ([later] if later is not None else [])
        for reader in readers:
            reader._cache[(ACCOUNT.lower(), TOKEN, bytes(32), None)] = (0.0, None)
            reader._cache[(TOKEN.lower(), TOKEN, bytes(32), None)] = (0.0, None)
        registry.signed(op)
        for reader in readers:
            assert [key[0] for key in reader._cache] == [TOKEN.lower()]  # the sender's entries only
            reader._cache.clear()


def test_granted_is_get_for_an_ops_permission_id() -> None:
    registry = ScopeRegistry()
    assert registry.granted(None) is None
    assert registry.granted(bytes(32)) is None and registry.get(bytes(32)) is None
