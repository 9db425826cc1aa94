"""Smart Sessions: the SDK's CreateSessionDataParams in Python, the Session structs, and their encodings.

``prepare_sessions`` is the Startale SDK's ``preparePermission`` / ``getPermissionAction``: for every action it
adds, in this order, TimeFrame (always), UniAction (when there are rules), Sudo (when ``sudo`` or no rules),
ValueLimit (when ``value_limit``), UsageLimit (when ``usage_limit``), ERC20SpendingLimit (when
``token_limits``); the session-level policy is one TimeFrame. The session validator is always the
OwnableValidator with threshold 1 and the session key as its only owner.

One deliberate difference: the SDK's default expiry ("now + 365 days") is computed once when its module is
imported; here it is computed when the sessions are prepared. Pass ``valid_until`` explicitly for
reproducible bytes.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from eth_abi import decode, encode
from eth_hash.auto import keccak
from eth_utils import function_abi_to_4byte_selector, function_signature_to_4byte_selector

from .addresses import CANONICAL, AddressBook
from .errors import AAConfigurationError
from .execution import Call
from .hexutil import BytesLike, to_address, to_bytes, to_hex, uint
from .policies import MAX_RULES, TIME_FRAME, ParamCondition, action_policies, time_frame_init_data

ONE_YEAR = 365 * 24 * 60 * 60

ENABLE_SESSIONS_SELECTOR = function_signature_to_4byte_selector(
    "enableSessions((address,bytes,bytes32,(address,bytes)[],((bytes32,string[])[],(address,bytes)[]),"
    "(bytes4,address,(address,bytes)[])[],bool)[])"
)  # 0x21712407
REMOVE_SESSION_SELECTOR = function_signature_to_4byte_selector("removeSession(bytes32)")  # 0xf867b08e
IS_PERMISSION_ENABLED_SELECTOR = function_signature_to_4byte_selector("isPermissionEnabled(bytes32,address)")

SESSION_ABI = (
    "(address,bytes,bytes32,(address,bytes)[],((bytes32,string[])[],(address,bytes)[]),"
    "(bytes4,address,(address,bytes)[])[],bool)"
)

# OwnableValidator's mock signature (module-sdk getOwnableValidatorMockSignature({threshold: 1})), for gas estimation.
OWNABLE_MOCK_SIGNATURE = bytes.fromhex(
    "e8b94748580ca0b4993c9a1b86b5be851bfc076ff5ce3a1ff65bf16392acfcb8"
    "00f9b4f1aef1555c7fce5599fffb17e7c635502154a0333ba21f3ae491839af51c"
)


class SmartSessionMode(IntEnum):
    USE = 0x00
    ENABLE = 0x01
    UNSAFE_ENABLE = 0x02


RefValue = int | bool | str | bytes


def reference_value(ref: RefValue) -> bytes:
    """The SDK's ``parseReferenceValue``: a 20-byte address is left-padded, an int (or bool) is a 32-byte
    big-endian word, other hex must be exactly 32 bytes."""
    if isinstance(ref, bool):
        return int(ref).to_bytes(32, "big")
    if isinstance(ref, int):
        return uint(ref, 256, "rule ref").to_bytes(32, "big")
    raw = to_bytes(ref, "rule ref")
    if len(raw) == 20:
        return bytes(12) + raw
    if len(raw) != 32:
        raise AAConfigurationError(
            f"rule ref must be an address, an int or 32 bytes, got {len(raw)} bytes",
            hint="pass numbers as int, addresses as 0x + 40 hex digits",
        )
    return raw


@dataclass(frozen=True)
class LimitUsage:
    limit: int = 0
    used: int = 0


@dataclass(frozen=True)
class Rule:
    """A UniActionPolicy parameter rule: calldata word ``offset_index`` (after the selector) ``condition`` ``ref``."""

    condition: ParamCondition
    offset_index: int
    ref: RefValue
    is_limited: bool = False
    usage: LimitUsage = LimitUsage()

    def __post_init__(self) -> None:
        object.__setattr__(self, "condition", ParamCondition(self.condition))
        uint(self.offset_index * 32, 64, "rule offset_index * 32")
        reference_value(self.ref)  # fail early on a bad reference

    @property
    def ref32(self) -> bytes:
        return reference_value(self.ref)


@dataclass(frozen=True)
class TokenLimit:
    token: str
    limit: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "token", to_address(self.token, "token"))
        uint(self.limit, 256, "token limit")


def _selector(value: BytesLike) -> bytes:
    return to_bytes(value, "function_selector", 4)


@dataclass(frozen=True)
class ActionPolicyInfo:
    """One permitted (contract, function) with its policies; the SDK's ``ActionPolicyInfo``.

    Give ``function_selector`` (4 bytes or 0x hex), or ``abi`` (a JSON ABI list: one action per function,
    without rules). ``0xffffffff`` as selector permits plain value transfers to ``contract_address``.
    """

    contract_address: str
    function_selector: BytesLike | None = None
    rules: Sequence[Rule] = ()
    sudo: bool = False
    valid_until: int | None = None
    valid_after: int | None = None
    value_limit: int | None = None
    usage_limit: int | None = None
    token_limits: Sequence[TokenLimit] = ()
    abi: Sequence[Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "contract_address", to_address(self.contract_address, "contract_address"))
        if (self.function_selector is None) == (self.abi is None):
            raise AAConfigurationError("ActionPolicyInfo needs exactly one of function_selector and abi")
        if self.function_selector is not None:
            object.__setattr__(self, "function_selector", _selector(self.function_selector))
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "token_limits", tuple(self.token_limits))
        if len(self.rules) > MAX_RULES:
            raise AAConfigurationError(f"at most {MAX_RULES} rules per action, got {len(self.rules)}")
        if self.abi is not None and self.rules:
            raise AAConfigurationError("rules cannot be combined with abi (they are per function)")
        for name, bits in (("valid_until", 48), ("valid_after", 48), ("value_limit", 256), ("usage_limit", 128)):
            value = getattr(self, name)
            if value is not None:
                uint(value, bits, name)

    def resolved(self) -> list[ActionPolicyInfo]:
        """One info per function selector (the SDK's ``abiToPoliciesInfo`` for ``abi``)."""
        if self.abi is None:
            return [self]
        out = []
        for item in self.abi:
            if item.get("type") == "function":
                out.append(
                    ActionPolicyInfo(
                        contract_address=self.contract_address,
                        function_selector=function_abi_to_4byte_selector(dict(item)),  # type: ignore[arg-type]
                        sudo=self.sudo,
                        valid_until=self.valid_until,
                        valid_after=self.valid_after,
                        value_limit=self.value_limit,
                        usage_limit=self.usage_limit,
                        token_limits=self.token_limits,
                    )
                )
        return out


@dataclass(frozen=True)
class CreateSessionDataParams:
    """What to grant to one session key; the SDK's ``CreateSessionDataParams``.

    ``session_public_key`` is the session key's address. ``salt`` (32 bytes) defaults to random, which makes
    the permission id unique; pass it to get a reproducible permission id.
    """

    session_public_key: str
    action_policies_info: Sequence[ActionPolicyInfo]
    session_valid_until: int | None = None
    session_valid_after: int | None = None
    salt: BytesLike | None = None
    session_key_data: str | None = None  # the owner put in the validator init data; default: the key's address

    def __post_init__(self) -> None:
        object.__setattr__(self, "session_public_key", to_address(self.session_public_key, "session_public_key"))
        object.__setattr__(self, "action_policies_info", tuple(self.action_policies_info))
        if self.salt is not None:
            object.__setattr__(self, "salt", to_bytes(self.salt, "salt", 32))
        if self.session_key_data is not None:
            object.__setattr__(self, "session_key_data", to_address(self.session_key_data, "session_key_data"))
        for name in ("session_valid_until", "session_valid_after"):
            value = getattr(self, name)
            if value is not None:
                uint(value, 48, name)


# -- the on-chain structs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PolicyData:
    policy: str
    init_data: bytes = b""

    def as_tuple(self) -> tuple[str, bytes]:
        return (self.policy, self.init_data)


@dataclass(frozen=True)
class ActionData:
    action_target_selector: bytes
    action_target: str
    action_policies: tuple[PolicyData, ...]

    def as_tuple(self) -> tuple[bytes, str, list[tuple[str, bytes]]]:
        return (self.action_target_selector, self.action_target, [p.as_tuple() for p in self.action_policies])


@dataclass(frozen=True)
class ERC7739Context:
    app_domain_separator: bytes
    content_name: tuple[str, ...] = ()


@dataclass(frozen=True)
class ERC7739Data:
    allowed_erc7739_content: tuple[ERC7739Context, ...] = ()
    erc1271_policies: tuple[PolicyData, ...] = ()

    def as_tuple(self) -> tuple[list[tuple[bytes, list[str]]], list[tuple[str, bytes]]]:
        return (
            [(c.app_domain_separator, list(c.content_name)) for c in self.allowed_erc7739_content],
            [p.as_tuple() for p in self.erc1271_policies],
        )


@dataclass(frozen=True)
class Session:
    """SmartSession's ``Session`` struct (field order is the ABI order)."""

    session_validator: str
    session_validator_init_data: bytes
    salt: bytes
    user_op_policies: tuple[PolicyData, ...]
    erc7739_policies: ERC7739Data
    actions: tuple[ActionData, ...]
    permit_erc4337_paymaster: bool
    chain_id: int | None = field(default=None, compare=False)  # carried like the SDK does; not encoded

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.session_validator,
            self.session_validator_init_data,
            self.salt,
            [p.as_tuple() for p in self.user_op_policies],
            self.erc7739_policies.as_tuple(),
            [a.as_tuple() for a in self.actions],
            self.permit_erc4337_paymaster,
        )

    @functools.cached_property
    def permission_id(self) -> bytes:
        # a pure function of frozen fields, asked for several times per signed op (~0.4 ms of eth-abi each)
        return permission_id(self)

    @functools.cached_property
    def session_key(self) -> str:
        """The (single) owner in the OwnableValidator init data: the session key's address (a pure function of a
        frozen field, read on every signed op: worked out once)."""
        owners = self.session_validator_init_data[96:]
        return to_address(owners[12:32]) if len(owners) >= 32 else ""

    # JSON form, so a grant made in one process can be handed to the session key's process.
    def to_dict(self) -> dict[str, Any]:
        def policies(items: Iterable[PolicyData]) -> list[dict[str, str]]:
            return [{"policy": p.policy, "initData": to_hex(p.init_data)} for p in items]

        return {
            "sessionValidator": self.session_validator,
            "sessionValidatorInitData": to_hex(self.session_validator_init_data),
            "salt": to_hex(self.salt),
            "userOpPolicies": policies(self.user_op_policies),
            "erc7739Policies": {
                "allowedERC7739Content": [
                    {"appDomainSeparator": to_hex(c.app_domain_separator), "contentName": list(c.content_name)}
                    for c in self.erc7739_policies.allowed_erc7739_content
                ],
                "erc1271Policies": policies(self.erc7739_policies.erc1271_policies),
            },
            "actions": [
                {
                    "actionTargetSelector": to_hex(a.action_target_selector),
                    "actionTarget": a.action_target,
                    "actionPolicies": policies(a.action_policies),
                }
                for a in self.actions
            ],
            "permitERC4337Paymaster": self.permit_erc4337_paymaster,
            **({"chainId": self.chain_id} if self.chain_id is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        def policies(items: Iterable[Mapping[str, Any]]) -> tuple[PolicyData, ...]:
            return tuple(PolicyData(to_address(p["policy"]), to_bytes(p.get("initData", b""))) for p in items)

        erc7739 = data.get("erc7739Policies", {})
        return cls(
            session_validator=to_address(data["sessionValidator"]),
            session_validator_init_data=to_bytes(data["sessionValidatorInitData"]),
            salt=to_bytes(data["salt"], "salt", 32),
            user_op_policies=policies(data.get("userOpPolicies", [])),
            erc7739_policies=ERC7739Data(
                tuple(
                    ERC7739Context(to_bytes(c["appDomainSeparator"], size=32), tuple(c.get("contentName", [])))
                    for c in erc7739.get("allowedERC7739Content", [])
                ),
                policies(erc7739.get("erc1271Policies", [])),
            ),
            actions=tuple(
                ActionData(
                    to_bytes(a["actionTargetSelector"], "actionTargetSelector", 4),
                    to_address(a["actionTarget"]),
                    policies(a.get("actionPolicies", [])),
                )
                for a in data.get("actions", [])
            ),
            permit_erc4337_paymaster=bool(data.get("permitERC4337Paymaster", False)),
            chain_id=int(data["chainId"]) if data.get("chainId") is not None else None,
        )


# -- validator init data ----------------------------------------------------------------------------------
def encode_validation_data(threshold: int, owners: Sequence[str]) -> bytes:
    """OwnableValidator init data: abi.encode(uint256 threshold, address[] owners) with owners sorted."""
    addresses = sorted((to_address(o) for o in owners), key=lambda a: int(a, 16))
    return encode(["uint256", "address[]"], [threshold, addresses])


# -- prepare -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreparedPermission:
    """What ``prepare_sessions`` returns: the sessions, their permission ids, and the enableSessions call."""

    sessions: tuple[Session, ...]
    permission_ids: tuple[bytes, ...]
    call: Call  # {to: SmartSession, value: 0, data: enableSessions(sessions)}


def prepare_sessions(
    params: Sequence[CreateSessionDataParams] | CreateSessionDataParams,
    *,
    chain_id: int | None = None,
    with_paymaster: bool = False,
    addresses: AddressBook | None = None,
    now: int | None = None,
) -> PreparedPermission:
    """The Session structs, permission ids and enableSessions call for ``params``, as the SDK builds them.

    ``with_paymaster`` is the SDK's ``permitERC4337Paymaster``: true when the granting client uses a
    paymaster, and required for session ops that carry paymasterAndData.
    """
    book = addresses or CANONICAL
    items = [params] if isinstance(params, CreateSessionDataParams) else list(params)
    if not items:
        raise AAConfigurationError("prepare_sessions needs at least one CreateSessionDataParams")
    default_until = (int(time.time()) if now is None else now) + ONE_YEAR
    sessions = []
    for info in items:
        actions = [
            ActionData(to_bytes(resolved.function_selector or b""), resolved.contract_address,
                       action_policies(resolved, book, default_until))
            for a in info.action_policies_info
            for resolved in a.resolved()
        ]  # fmt: skip
        until = default_until if info.session_valid_until is None else info.session_valid_until
        after = 0 if info.session_valid_after is None else info.session_valid_after
        session = Session(
            session_validator=book.ownable_validator,
            session_validator_init_data=encode_validation_data(1, [info.session_key_data or info.session_public_key]),
            salt=info.salt if isinstance(info.salt, bytes) else os.urandom(32),
            user_op_policies=(PolicyData(TIME_FRAME.address(book), time_frame_init_data(until, after)),),
            erc7739_policies=ERC7739Data(),
            actions=tuple(actions),
            permit_erc4337_paymaster=with_paymaster,
            chain_id=chain_id,
        )
        sessions.append(session)
    return PreparedPermission(
        sessions=tuple(sessions),
        permission_ids=tuple(permission_id(s) for s in sessions),
        call=Call(to=book.smart_sessions, value=0, data=encode_enable_sessions(sessions)),
    )


# -- encodings ---------------------------------------------------------------------------------------------
def permission_id(session: Session) -> bytes:
    """keccak256(abi.encode(sessionValidator, sessionValidatorInitData, salt)); policies are not part of it."""
    return keccak(
        encode(
            ["address", "bytes", "bytes32"],
            [session.session_validator, session.session_validator_init_data, session.salt],
        )
    )


def encode_sessions(sessions: Sequence[Session]) -> bytes:
    """abi.encode(Session[])."""
    return encode([SESSION_ABI + "[]"], [[s.as_tuple() for s in sessions]])


def session_from_tuple(value: Sequence[Any]) -> Session:
    """A Session from its ABI tuple (as eth_abi decodes ``SESSION_ABI``)."""
    validator, init_data, salt, user_op_policies, erc7739, actions, paymaster = value
    return Session.from_dict(
        {
            "sessionValidator": validator,
            "sessionValidatorInitData": to_hex(init_data),
            "salt": to_hex(salt),
            "userOpPolicies": [{"policy": p, "initData": to_hex(d)} for p, d in user_op_policies],
            "erc7739Policies": {
                "allowedERC7739Content": [
                    {"appDomainSeparator": to_hex(sep), "contentName": list(names)} for sep, names in erc7739[0]
                ],
                "erc1271Policies": [{"policy": p, "initData": to_hex(d)} for p, d in erc7739[1]],
            },
            "actions": [
                {
                    "actionTargetSelector": to_hex(sel),
                    "actionTarget": target,
                    "actionPolicies": [{"policy": p, "initData": to_hex(d)} for p, d in policies],
                }
                for sel, target, policies in actions
            ],
            "permitERC4337Paymaster": paymaster,
        }
    )


def decode_enable_sessions(call_data: BytesLike) -> list[Session]:
    """The Sessions of an ``enableSessions(Session[])`` call; anything else is refused."""
    data = to_bytes(call_data, "call data")
    if data[:4] != ENABLE_SESSIONS_SELECTOR:
        raise AAConfigurationError("not an enableSessions(Session[]) call")
    try:
        (sessions,) = decode([SESSION_ABI + "[]"], data[4:])
    except Exception:  # eth_abi raises several unrelated types for malformed data
        raise AAConfigurationError("the enableSessions call data does not decode as Session[]") from None
    return [session_from_tuple(s) for s in sessions]


def encode_enable_sessions(sessions: Sequence[Session]) -> bytes:
    return ENABLE_SESSIONS_SELECTOR + encode_sessions(sessions)


def encode_remove_session(permission_id: BytesLike) -> bytes:
    return REMOVE_SESSION_SELECTOR + encode(["bytes32"], [to_bytes(permission_id, "permission_id", 32)])


def encode_is_permission_enabled(permission_id: BytesLike, account: str) -> bytes:
    return IS_PERMISSION_ENABLED_SELECTOR + encode(
        ["bytes32", "address"], [to_bytes(permission_id, "permission_id", 32), to_address(account, "account")]
    )


def smart_sessions_init_data(sessions: Sequence[Session] = (), *, use_registry: bool = True) -> bytes:
    """installModule init data for SmartSession: empty, or mode (ENABLE / UNSAFE_ENABLE) ‖ abi.encode(Session[])."""
    if not sessions:
        return b""
    mode = SmartSessionMode.ENABLE if use_registry else SmartSessionMode.UNSAFE_ENABLE
    return bytes([mode]) + encode_sessions(sessions)


def encode_use_signature(permission_id: BytesLike, signature: BytesLike) -> bytes:
    """USE mode: 0x00 ‖ permissionId ‖ the session validator's signature (65 bytes r‖s‖v for OwnableValidator)."""
    return (
        bytes([SmartSessionMode.USE]) + to_bytes(permission_id, "permission_id", 32) + to_bytes(signature, "signature")
    )


def stub_signature(permission_id: BytesLike) -> bytes:
    """The USE-mode signature with OwnableValidator's mock signature, for gas estimation."""
    return encode_use_signature(permission_id, OWNABLE_MOCK_SIGNATURE)


def decode_use_signature(signature: BytesLike) -> tuple[bytes, bytes]:
    """(permission id, validator signature) of a USE-mode signature."""
    data = to_bytes(signature, "signature")
    if len(data) < 33 or data[0] != SmartSessionMode.USE:
        raise AAConfigurationError("not a Smart Sessions USE-mode signature (0x00 ‖ permissionId ‖ signature)")
    return data[1:33], data[33:]
