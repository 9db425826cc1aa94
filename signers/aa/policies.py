"""The Smart Sessions policies, one object each: its address, its init data, its local check, its on-chain limit.

``POLICIES`` is the one list the rest of ``signers.aa`` reads: ``prepare_sessions`` encodes an action's policies
from it (in the SDK's order), the scope check refuses a Session whose policies it does not name and runs each
policy's local check, and ``limits.OnChainLimits`` asks the limit policies what an op would take and reads their
state on the chain. A new policy is one class here, one entry in ``POLICIES`` and its address in ``AddressBook``.

The order of ``POLICIES`` is the Startale SDK's ``getPermissionAction`` order (TimeFrame, UniAction, Sudo,
ValueLimit, UsageLimit, ERC20SpendingLimit): the encoded bytes follow it, and the SDK cross-checks prove them.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

from .errors import AAConfigurationError, ContractCallError, LimitsUnavailableError, ScopeViolationError
from .hexutil import to_bytes, uint

if TYPE_CHECKING:
    from .addresses import AddressBook
    from .execution import Call
    from .limits import Demand, OnChainLimits
    from .sessions import ActionData, ActionPolicyInfo, PolicyData, Rule, TokenLimit

MAX_RULES = 16
ACTION_CONFIG_ABI = "(uint256,(uint256,(uint8,uint64,bool,bytes32,(uint256,uint256))[16]))"

GET_POLICY_DATA = function_signature_to_4byte_selector("getPolicyData(bytes32,address,address,address)")
TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
TRANSFER_FROM = function_signature_to_4byte_selector("transferFrom(address,address,uint256)")
APPROVE = function_signature_to_4byte_selector("approve(address,uint256)")
INCREASE_ALLOWANCE = function_signature_to_4byte_selector("increaseAllowance(address,uint256)")


class ParamCondition(IntEnum):
    EQUAL = 0
    GREATER_THAN = 1
    LESS_THAN = 2
    GREATER_THAN_OR_EQUAL = 3
    LESS_THAN_OR_EQUAL = 4
    NOT_EQUAL = 5
    IN_RANGE = 6  # the contract has it; the SDK's enum stops at NOT_EQUAL


# -- init data encodings -----------------------------------------------------------------------------------
def time_frame_init_data(valid_until: int, valid_after: int) -> bytes:
    """encodePacked(uint48 validUntil, uint48 validAfter)."""
    return uint(valid_until, 48, "valid_until").to_bytes(6, "big") + uint(valid_after, 48, "valid_after").to_bytes(
        6, "big"
    )


def uni_action_init_data(rules: Sequence[Rule], value_limit_per_use: int = 0) -> bytes:
    """abi.encode(ActionConfig): the real rules then zero rules up to 16 (a static 3136-byte tuple)."""
    if len(rules) > MAX_RULES:
        raise AAConfigurationError(f"at most {MAX_RULES} rules, got {len(rules)}")
    rows = [
        (int(r.condition), r.offset_index * 32, bool(r.is_limited), r.ref32, (r.usage.limit, r.usage.used))
        for r in rules
    ]
    rows += [(0, 0, False, bytes(32), (0, 0))] * (MAX_RULES - len(rows))
    return encode([ACTION_CONFIG_ABI], [(uint(value_limit_per_use, 256, "value_limit"), (len(rules), rows))])


def value_limit_init_data(limit: int) -> bytes:
    return encode(["uint256"], [limit])


def usage_limit_init_data(limit: int) -> bytes:
    """encodePacked(uint128 limit)."""
    return uint(limit, 128, "usage_limit").to_bytes(16, "big")


def spending_limits_init_data(limits: Sequence[TokenLimit]) -> bytes:
    return encode(["address[]", "uint256[]"], [[t.token for t in limits], [t.limit for t in limits]])


# -- reading a grant's init data ---------------------------------------------------------------------------
def _decode(c: CallUnderCheck, name: str, types: tuple[str, ...], init_data: bytes) -> Any:
    """A policy's init data, or a refusal: data the check cannot read is data it cannot vouch for."""
    try:
        return _decoded(types, bytes(init_data))
    except Exception:  # eth_abi raises several unrelated types for malformed data
        raise ScopeViolationError(
            f"{c.where}: the {name} init data of the grant cannot be decoded",
            call_index=c.index,
            hint="re-export the Session from the granter (Session.to_dict / from_dict)",
        ) from None


@functools.lru_cache(maxsize=1024)
def _decoded(types: tuple[str, ...], data: bytes) -> Any:
    """eth-abi's decoding of a grant's init data, remembered: a session signs against the same few grants over
    and over, and decoding the universal action policy's rules costs ~6 ms. The result is immutable (tuples,
    ints, bytes, str); a failure is not remembered (it raises again)."""
    return decode(list(types), data)


def _in_range(value: int, ref: int) -> bool:
    return True  # IN_RANGE: left to the chain


# A rule's test by its condition (a plain dict of operator functions: each rule of each call is tested on every op)
_RULE_TESTS: dict[int, Callable[[int, int], bool]] = {
    ParamCondition.EQUAL: operator.eq,
    ParamCondition.GREATER_THAN: operator.gt,
    ParamCondition.LESS_THAN: operator.lt,
    ParamCondition.GREATER_THAN_OR_EQUAL: operator.ge,
    ParamCondition.LESS_THAN_OR_EQUAL: operator.le,
    ParamCondition.NOT_EQUAL: operator.ne,
    ParamCondition.IN_RANGE: _in_range,
}


def _rule_holds(condition: int, value: int, ref: int) -> bool:
    test = _RULE_TESTS.get(condition)
    return test is not None and test(value, ref)  # unknown condition: refuse rather than guess


def _condition_name(condition: int) -> str:
    return ParamCondition(condition).name if condition in _RULE_TESTS else f"condition {condition} (unknown)"


def describe_call(index: int, call: Call) -> str:
    """How a refusal names a call: ``call #i (to ..., selector ..., value ...)``."""
    return f"call #{index} (to {call.to}, selector 0x{call.selector.hex()}, value {call.value})"


@dataclass(slots=True)
class CallUnderCheck:
    """One call of an op as a policy's local check sees it; ``value_spent`` is shared by the op's calls."""

    call: Call
    action: ActionData
    index: int
    now: int
    value_spent: dict[tuple[str, bytes], int]

    @property
    def where(self) -> str:
        """The call as a refusal names it (made only for a refusal: an f-string per call of every op otherwise)."""
        return describe_call(self.index, self.call)


def _word(value: int | str) -> bytes:
    return value.to_bytes(32, "big") if isinstance(value, int) else to_bytes(value).rjust(32, b"\x00")


def mapping_slot(config_id: bytes, multiplexer: str, account: str, base: int = 0) -> int:
    """The storage slot of ``mapping[configId][multiplexer][account]`` declared at slot ``base`` (where the usage
    and value limit policies keep their state)."""
    slot = keccak(config_id + _word(base))
    slot = keccak(_word(multiplexer) + slot)
    return int.from_bytes(keccak(_word(account) + slot), "big")


# -- the policies ------------------------------------------------------------------------------------------
class Policy:
    """A Smart Sessions policy contract. Subclasses say what they add to an action, check and limit."""

    name: ClassVar[str]  # the contract's name, in refusals
    book_field: ClassVar[str]  # its AddressBook attribute
    unit: ClassVar[str] = ""  # a limit policy's unit, in refusals
    op_what: ClassVar[str] = ""  # what a userOp-level limit counts, in refusals

    def address(self, book: AddressBook) -> str:
        return str(getattr(book, self.book_field))

    def action_init_data(self, info: ActionPolicyInfo, default_until: int) -> bytes | None:
        """Its init data for one action of ``prepare_sessions`` (the SDK's), or None: not added to this action."""
        return None

    def check_op(self, init_data: bytes, what: str, now: int) -> None:
        """Refuse an op this userOp-level policy would refuse (``what`` names the session)."""

    def check_call(self, init_data: bytes, c: CallUnderCheck) -> None:
        """Refuse a call this action policy would refuse, as far as it is known without the chain's state."""

    def op_demand(self, calls: Sequence[Call]) -> int | None:
        """What an op of ``calls`` takes from this userOp-level policy's on-chain limit (None: no limit)."""
        return None

    def call_demand(self, call: Call, account: str, where: str, index: int) -> tuple[int, str | None] | None:
        """(amount, token) a call takes from this action policy's on-chain limit (None: no limit)."""
        return None

    def read_limit(self, limits: OnChainLimits, demand: Demand, multiplexer: str, account: str) -> tuple[int, int]:
        """(limit, used) of ``demand``'s config on the chain, read through ``limits``' node."""
        raise NotImplementedError(f"{self.name} keeps no on-chain limit")

    def __repr__(self) -> str:
        return self.name


class TimeFramePolicy(Policy):
    name, book_field = "TimeFramePolicy", "time_frame_policy"

    def action_init_data(self, info: ActionPolicyInfo, default_until: int) -> bytes:
        until = default_until if info.valid_until is None else info.valid_until
        return time_frame_init_data(until, 0 if info.valid_after is None else info.valid_after)

    @staticmethod
    def frame(init_data: bytes) -> tuple[int, int]:
        """(validUntil, validAfter)."""
        if len(init_data) < 12:
            raise AAConfigurationError("TimeFramePolicy init data is shorter than 12 bytes")
        return int.from_bytes(init_data[:6], "big"), int.from_bytes(init_data[6:12], "big")

    def check_op(self, init_data: bytes, what: str, now: int) -> None:
        refusal = self._refusal(init_data, now)
        if refusal is not None:
            raise ScopeViolationError(f"{what}: {refusal[0]}", hint=refusal[1])

    def check_call(self, init_data: bytes, c: CallUnderCheck) -> None:
        refusal = self._refusal(init_data, c.now)
        if refusal is not None:  # the call is named only now: its description is a refusal's, not every op's
            raise ScopeViolationError(f"{c.where}: {refusal[0]}", call_index=c.index, hint=refusal[1])

    def _refusal(self, init_data: bytes, now: int) -> tuple[str, str | None] | None:
        """Why the frame refuses at ``now`` and a hint (None: the error's own), or None if it holds."""
        valid_until, valid_after = self.frame(init_data)
        if valid_until == 0 and valid_after == 0:
            return "TimeFramePolicy with validUntil = validAfter = 0 always reverts", None
        if valid_until != 0 and now > valid_until:
            return f"expired at {valid_until} (now {now})", "grant a new session"
        if now < valid_after:
            return f"not valid before {valid_after} (now {now})", None
        return None


class UniActionPolicy(Policy):
    name, book_field = "UniActionPolicy", "uni_action_policy"

    def action_init_data(self, info: ActionPolicyInfo, default_until: int) -> bytes | None:
        return uni_action_init_data(info.rules, info.value_limit or 0) if info.rules else None

    def check_call(self, init_data: bytes, c: CallUnderCheck) -> None:
        ((value_limit, (length, rules)),) = _decode(c, self.name, (ACTION_CONFIG_ABI,), init_data)
        if c.call.value > value_limit:
            raise ScopeViolationError(f"{c.where}: value exceeds the per-call limit {value_limit}", call_index=c.index)
        data = c.call.data  # the arguments start after the 4-byte selector
        for condition, offset, _limited, ref, _usage in rules[:length]:
            word = data[4 + offset : 36 + offset]
            if len(word) < 32:
                raise ScopeViolationError(
                    f"{c.where}: calldata too short for the rule at offset {offset}", call_index=c.index
                )
            if not _rule_holds(condition, int.from_bytes(word, "big"), int.from_bytes(ref, "big")):
                raise ScopeViolationError(
                    f"{c.where}: argument at offset {offset} breaks rule {_condition_name(condition)} 0x{ref.hex()}",
                    call_index=c.index,
                )


class SudoPolicy(Policy):
    name, book_field = "SudoPolicy", "sudo_policy"

    def action_init_data(self, info: ActionPolicyInfo, default_until: int) -> bytes | None:
        return b"" if info.sudo or not info.rules else None


class ValueLimitPolicy(Policy):
    name, book_field, unit, op_what = "ValueLimitPolicy", "value_limit_policy", "wei", "the session's value"

    def action_init_data(self, info: ActionPolicyInfo, default_until: int) -> bytes | None:
        return value_limit_init_data(info.value_limit) if info.value_limit else None

    def check_call(self, init_data: bytes, c: CallUnderCheck) -> None:
        (limit,) = _decode(c, self.name, ("uint256",), init_data)
        key = (c.action.action_target, c.action.action_target_selector)
        spent = c.value_spent[key] = c.value_spent.get(key, 0) + c.call.value
        if spent > limit:
            raise ScopeViolationError(
                f"{c.where}: value total {spent} exceeds the session's value limit {limit}", call_index=c.index
            )

    def op_demand(self, calls: Sequence[Call]) -> int:
        return sum(c.value for c in calls)

    def call_demand(self, call: Call, account: str, where: str, index: int) -> tuple[int, str | None]:
        return call.value, None

    def read_limit(self, limits: OnChainLimits, demand: Demand, multiplexer: str, account: str) -> tuple[int, int]:
        slot = mapping_slot(demand.config_id, multiplexer, account)  # (uint256 limit, uint256 used): two words
        return limits.storage(demand.policy, slot), limits.storage(demand.policy, slot + 1)


class UsageLimitPolicy(Policy):
    name, book_field, unit, op_what = "UsageLimitPolicy", "usage_limit_policy", "uses", "the session's ops"

    def action_init_data(self, info: ActionPolicyInfo, default_until: int) -> bytes | None:
        return usage_limit_init_data(info.usage_limit) if info.usage_limit else None

    def op_demand(self, calls: Sequence[Call]) -> int:
        return 1

    def call_demand(self, call: Call, account: str, where: str, index: int) -> tuple[int, str | None]:
        return 1, None

    def read_limit(self, limits: OnChainLimits, demand: Demand, multiplexer: str, account: str) -> tuple[int, int]:
        word = limits.storage(demand.policy, mapping_slot(demand.config_id, multiplexer, account))
        return word & ((1 << 128) - 1), word >> 128  # packed (uint128 limit, uint128 used)


class ERC20SpendingLimitPolicy(Policy):
    name, book_field, unit = "ERC20SpendingLimitPolicy", "erc20_spending_limit_policy", "token units"

    def action_init_data(self, info: ActionPolicyInfo, default_until: int) -> bytes | None:
        return spending_limits_init_data(info.token_limits) if info.token_limits else None

    def call_demand(self, call: Call, account: str, where: str, index: int) -> tuple[int, str | None]:
        """What the call spends or approves of its token; a call the policy refuses whatever the state (native
        value, another selector, short data) is refused here too."""
        if call.value != 0:
            raise ScopeViolationError(
                f"{where}: ERC20SpendingLimitPolicy refuses native value on a token call", call_index=index
            )
        args = call.data[4:]
        try:
            if call.selector in (TRANSFER, APPROVE, INCREASE_ALLOWANCE):
                _, amount = decode(["address", "uint256"], args)
            elif call.selector == TRANSFER_FROM:
                _, to, amount = decode(["address", "address", "uint256"], args)
                if to.lower() == account.lower():
                    amount = 0  # tokens coming in spend nothing
            else:
                raise ScopeViolationError(
                    f"{where}: ERC20SpendingLimitPolicy allows transfer, transferFrom, approve and increaseAllowance "
                    "only",
                    call_index=index,
                )
        except ScopeViolationError:
            raise
        except Exception:  # eth_abi's several error types for short data
            raise ScopeViolationError(
                f"{where}: the token call's arguments cannot be decoded", call_index=index
            ) from None
        return int(amount), call.to

    def read_limit(self, limits: OnChainLimits, demand: Demand, multiplexer: str, account: str) -> tuple[int, int]:
        if demand.token is None:  # call_demand names the token of every call it counts
            raise LimitsUnavailableError(f"{self.name}: a demand on {demand.what} names no token; nothing was signed")
        data = GET_POLICY_DATA + encode(
            ["bytes32", "address", "address", "address"], [demand.config_id, multiplexer, demand.token, account]
        )
        try:
            limit, spent, approved = decode(["uint256", "uint256", "uint256"], limits.call(demand.policy, data))
        except ContractCallError:
            return 0, 0  # reverted: a token the config does not name, nothing may be spent
        return int(limit), int(spent) + int(approved)


TIME_FRAME = TimeFramePolicy()
# Every policy the library knows, in the SDK's order of an action's policies (the encoded bytes follow it).
POLICIES: tuple[Policy, ...] = (
    TIME_FRAME,
    UniActionPolicy(),
    SudoPolicy(),
    ValueLimitPolicy(),
    UsageLimitPolicy(),
    ERC20SpendingLimitPolicy(),
)


@functools.lru_cache(maxsize=64)
def policies_at(book: AddressBook) -> dict[str, Policy]:
    """The policies of ``book`` by their (checksummed) address (read on every signature: built once per book)."""
    return {p.address(book): p for p in POLICIES}


def action_policies(info: ActionPolicyInfo, book: AddressBook, default_until: int) -> tuple[PolicyData, ...]:
    """The PolicyData of one action as the SDK's ``getPermissionAction`` builds it."""
    from .sessions import PolicyData

    out = []
    for policy in POLICIES:
        init_data = policy.action_init_data(info, default_until)
        if init_data is not None:
            out.append(PolicyData(policy.address(book), init_data))
    return tuple(out)
