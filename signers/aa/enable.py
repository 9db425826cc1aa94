"""Smart Sessions ENABLE mode: the owner signs a session off-chain once; the first session op enables and uses it.

What the owner signs is SmartSession's EIP-712 ``MultiChainSession`` (domain ``SmartSession`` / ``1``): for each
chain, the Session with the account, the module, the permission's enable nonce and the mode (module-sdk's
``hashChainSessions``). The module recomputes one chain's entry (``getSessionDigest``) and asks the account
(ERC-1271, ``validator ‖ ownerSig``) whether the owner signed the whole.

The session op's signature (module-sdk's ``encodeSmartSessionSignature`` in ENABLE mode)::

    mode (0x01 ENABLE | 0x02 UNSAFE_ENABLE) ‖ FastLZ(abi.encode(EnableSession, bytes sessionSig))
    EnableSession = (uint8 chainDigestIndex, (uint64 chainId, bytes32 sessionDigest)[] hashesAndChainIds,
                     Session sessionToEnable, bytes permissionEnableSig = validator(20) ‖ ownerSig)

``create_enable_grant`` makes the owner's part (an ``EnableGrant``, JSON-able to hand to the session key's
process); ``signers.aa.enable_flow.send_enabling_session_user_operation`` sends the op. Before the session key
signs, the local check (``check_enable_operation``, called by the scope check's before_sign hook) verifies that
the enable signature in the op recovers to the grant's owner over exactly these digests, then checks the op
against the Session it enables.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from eth_abi import decode, encode
from eth_hash.auto import keccak
from eth_utils import function_signature_to_4byte_selector

from ..hashing import personal_sign_hash, typed_data_message
from ..signature import Signature
from .accounts import Validation, split_nonce
from .errors import AAConfigurationError, ContractCallError, ScopeViolationError
from .fastlz import compress, decompress
from .hexutil import BytesLike, to_address, to_bytes, to_hex, uint
from .sessions import (
    OWNABLE_MOCK_SIGNATURE,
    SESSION_ABI,
    CreateSessionDataParams,
    Session,
    SmartSessionMode,
    prepare_sessions,
    session_from_tuple,
)
from .user_operation import UserOperation

if TYPE_CHECKING:
    from ..signer import Signer
    from .accounts import SmartAccount
    from .addresses import AddressBook
    from .scope import ScopeRegistry

# -- EIP-712 types (module-sdk hashChainSessions; the typehashes are HashLib's constants) --------------------
EIP712_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}],
    "PolicyData": [{"name": "policy", "type": "address"}, {"name": "initData", "type": "bytes"}],
    "ActionData": [
        {"name": "actionTargetSelector", "type": "bytes4"},
        {"name": "actionTarget", "type": "address"},
        {"name": "actionPolicies", "type": "PolicyData[]"},
    ],
    "ERC7739Context": [{"name": "appDomainSeparator", "type": "bytes32"}, {"name": "contentName", "type": "string[]"}],
    "ERC7739Data": [
        {"name": "allowedERC7739Content", "type": "ERC7739Context[]"},
        {"name": "erc1271Policies", "type": "PolicyData[]"},
    ],
    "SignedPermissions": [
        {"name": "permitGenericPolicy", "type": "bool"},
        {"name": "permitAdminAccess", "type": "bool"},
        {"name": "ignoreSecurityAttestations", "type": "bool"},
        {"name": "permitERC4337Paymaster", "type": "bool"},
        {"name": "userOpPolicies", "type": "PolicyData[]"},
        {"name": "erc7739Policies", "type": "ERC7739Data"},
        {"name": "actions", "type": "ActionData[]"},
    ],
    "SignedSession": [
        {"name": "account", "type": "address"},
        {"name": "permissions", "type": "SignedPermissions"},
        {"name": "sessionValidator", "type": "address"},
        {"name": "sessionValidatorInitData", "type": "bytes"},
        {"name": "salt", "type": "bytes32"},
        {"name": "smartSession", "type": "address"},
        {"name": "nonce", "type": "uint256"},
    ],
    "ChainSession": [{"name": "chainId", "type": "uint64"}, {"name": "session", "type": "SignedSession"}],
    "MultiChainSession": [{"name": "sessionsAndChainIds", "type": "ChainSession[]"}],
}
DOMAIN = {"name": "SmartSession", "version": "1"}

# keccak256 of the full EIP-712 type strings (HashLib.sol: CHAIN_SESSION_TYPEHASH, MULTICHAIN_SESSION_TYPEHASH)
CHAIN_SESSION_TYPEHASH = bytes.fromhex("1ea7e4bc398fa0ccd68d92b5d8931a3fd93eebe1cf0391b4ba28935801af7c80")
MULTICHAIN_SESSION_TYPEHASH = bytes.fromhex("0c9d02fb89a1da34d66ea2088dc9ee6a58efee71cef6f1bb849ed74fc6003d98")
# keccak256(abi.encode(keccak256("EIP712Domain(string name,string version)"), keccak256("SmartSession"),
#                      keccak256("1")))
MULTICHAIN_DOMAIN_SEPARATOR = bytes.fromhex("057501e891776d1482927e5f094ae44049a4d893ba2d7b334dd7db8d38d3a0e1")

ENABLE_SESSION_ABI = f"(uint8,(uint64,bytes32)[],{SESSION_ABI},bytes)"
GET_SESSION_DIGEST_SELECTOR = function_signature_to_4byte_selector(
    f"getSessionDigest(bytes32,address,{SESSION_ABI},uint8)"
)
GET_NONCE_SELECTOR = function_signature_to_4byte_selector("getNonce(bytes32,address)")
IS_VALID_SIGNATURE_SELECTOR = function_signature_to_4byte_selector("isValidSignature(bytes32,bytes)")  # 0x1626ba7e
ENABLE_MODES = (SmartSessionMode.ENABLE, SmartSessionMode.UNSAFE_ENABLE)
FALLBACK_TARGET = "0x0000000000000000000000000000000000000001"
FALLBACK_SELECTOR_GENERIC = b"\x00\x00\x00\x01"
FALLBACK_SELECTOR_ADMIN = b"\x00\x00\x00\x02"  # a fallback that may call SmartSession itself


class EnableSignatureError(ScopeViolationError):
    """An ENABLE-mode op whose owner enable signature does not hold locally; the session key signed nothing."""

    hint = "have the owner sign the enable data again (create_enable_grant) for this account, chain and nonce"


@dataclass(frozen=True)
class ChainDigest:
    chain_id: int
    session_digest: bytes


def _enable_mode(mode: int) -> SmartSessionMode:
    if mode not in ENABLE_MODES:
        raise AAConfigurationError(f"enable mode must be ENABLE (1) or UNSAFE_ENABLE (2), not {mode}")
    return SmartSessionMode(mode)


# -- the digests ----------------------------------------------------------------------------------------------
def _fallback_flags(session: Session) -> tuple[bool, bool]:
    """(permitGenericPolicy, permitAdminAccess), derived from the actions as HashLib.hashActionDataArray does."""
    fallbacks = [a.action_target_selector for a in session.actions if a.action_target == FALLBACK_TARGET]
    return FALLBACK_SELECTOR_GENERIC in fallbacks, FALLBACK_SELECTOR_ADMIN in fallbacks


def signed_session(session: Session, account: str, smart_session: str, nonce: int, mode: int) -> dict[str, Any]:
    """The EIP-712 ``SignedSession`` message of ``session`` (what getSessionDigest hashes)."""
    generic, admin = _fallback_flags(session)
    fields = session.to_dict()  # the Session's JSON form: the message names its fields the same way
    return {
        "account": to_address(account, "account"),
        "permissions": {
            "permitGenericPolicy": generic,
            "permitAdminAccess": admin,
            "ignoreSecurityAttestations": _enable_mode(mode) == SmartSessionMode.UNSAFE_ENABLE,
            "permitERC4337Paymaster": session.permit_erc4337_paymaster,
            "userOpPolicies": fields["userOpPolicies"],
            "erc7739Policies": fields["erc7739Policies"],
            "actions": fields["actions"],
        },
        "sessionValidator": fields["sessionValidator"],
        "sessionValidatorInitData": fields["sessionValidatorInitData"],
        "salt": fields["salt"],
        "smartSession": to_address(smart_session, "smart_session"),
        "nonce": uint(nonce, 256, "nonce"),
    }


def session_digest(session: Session, account: str, smart_session: str, nonce: int, mode: int) -> bytes:
    """hashStruct(SignedSession): what SmartSession.getSessionDigest answers for this account and nonce."""
    types = {k: v for k, v in EIP712_TYPES.items() if k not in ("ChainSession", "MultiChainSession")}
    typed = {
        "types": types,  # eth-account wants the primary type to be the one no other type references
        "primaryType": "SignedSession",
        "domain": DOMAIN,
        "message": signed_session(session, account, smart_session, nonce, mode),
    }
    return bytes(typed_data_message(full_message=typed).body)


def multichain_typed_data(chain_sessions: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """The EIP-712 ``MultiChainSession`` the owner signs: (chain id, SignedSession message) per chain."""
    return {
        "types": EIP712_TYPES,
        "primaryType": "MultiChainSession",
        "domain": DOMAIN,
        "message": {
            "sessionsAndChainIds": [
                {"chainId": uint(chain_id, 64, "chain id"), "session": message} for chain_id, message in chain_sessions
            ]
        },
    }


def multichain_digest(chain_digests: Sequence[ChainDigest]) -> bytes:
    """The hash the owner signs, from the per-chain session digests (HashLib.multichainDigest): equal to the
    EIP-712 hash of ``multichain_typed_data`` when each digest is its SignedSession's hashStruct."""
    entries = b"".join(
        keccak(encode(["bytes32", "uint64", "bytes32"], [CHAIN_SESSION_TYPEHASH, d.chain_id, d.session_digest]))
        for d in chain_digests
    )
    struct = keccak(encode(["bytes32", "bytes32"], [MULTICHAIN_SESSION_TYPEHASH, keccak(entries)]))
    return keccak(b"\x19\x01" + MULTICHAIN_DOMAIN_SEPARATOR + struct)


# -- the grant ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnableGrant:
    """The owner's off-chain enable of ``session`` on ``account`` (signed once, used by the first session op)."""

    account: str
    session: Session
    chain_digests: tuple[ChainDigest, ...]
    chain_digest_index: int
    validator: str  # the account's validator that checks owner_signature (ERC-7579: prefixed to it)
    owner: str  # who signed: the local check recovers owner_signature to this address
    owner_signature: bytes
    nonce: int
    mode: SmartSessionMode = SmartSessionMode.ENABLE

    def __post_init__(self) -> None:
        if not 0 <= self.chain_digest_index < len(self.chain_digests) or self.chain_digest_index > 255:
            raise AAConfigurationError(
                f"chain_digest_index {self.chain_digest_index} is outside the {len(self.chain_digests)} chain digests"
            )
        object.__setattr__(self, "mode", _enable_mode(self.mode))  # an int 1 or 2 becomes the enum

    @property
    def permission_id(self) -> bytes:
        return self.session.permission_id

    @property
    def chain_id(self) -> int:
        return self.chain_digests[self.chain_digest_index].chain_id

    @property
    def signed_hash(self) -> bytes:
        return multichain_digest(self.chain_digests)

    @property
    def permission_enable_sig(self) -> bytes:
        """What the module hands to the account's isValidSignature: validator(20) ‖ ownerSig (ERC-7579)."""
        return to_bytes(self.validator, "validator", 20) + self.owner_signature

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "session": self.session.to_dict(),
            "hashesAndChainIds": [
                {"chainId": d.chain_id, "sessionDigest": to_hex(d.session_digest)} for d in self.chain_digests
            ],
            "chainDigestIndex": self.chain_digest_index,
            "validator": self.validator,
            "owner": self.owner,
            "ownerSignature": to_hex(self.owner_signature),
            "nonce": self.nonce,
            "mode": int(self.mode),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnableGrant:
        return cls(
            account=to_address(data["account"], "account"),
            session=Session.from_dict(data["session"]),
            chain_digests=tuple(
                ChainDigest(int(d["chainId"]), to_bytes(d["sessionDigest"], "sessionDigest", 32))
                for d in data["hashesAndChainIds"]
            ),
            chain_digest_index=int(data["chainDigestIndex"]),
            validator=to_address(data["validator"], "validator"),
            owner=to_address(data["owner"], "owner"),
            owner_signature=to_bytes(data["ownerSignature"], "ownerSignature", 65),
            nonce=int(data["nonce"]),
            mode=_enable_mode(int(data.get("mode", SmartSessionMode.ENABLE))),
        )


def read_enable_nonce(account: SmartAccount, permission_id: BytesLike) -> int:
    """SmartSession.getNonce(permissionId, account): the nonce the next enable signature must carry."""
    data = GET_NONCE_SELECTOR + encode(
        ["bytes32", "address"], [to_bytes(permission_id, "permission_id", 32), account.address]
    )
    (nonce,) = decode(["uint256"], account.node.call(account.addresses.smart_sessions, data))
    return int(nonce)


def read_session_digest(account: SmartAccount, session: Session, mode: int = SmartSessionMode.ENABLE) -> bytes:
    """SmartSession.getSessionDigest(permissionId, account, session, mode), from the module on chain."""
    data = GET_SESSION_DIGEST_SELECTOR + encode(
        ["bytes32", "address", SESSION_ABI, "uint8"],
        [session.permission_id, account.address, session.as_tuple(), _enable_mode(mode)],
    )
    (digest,) = decode(["bytes32"], account.node.call(account.addresses.smart_sessions, data))
    return bytes(digest)


def create_enable_grant(
    account: SmartAccount,
    owner: Signer,
    session: Session | CreateSessionDataParams,
    *,
    validator: str | None = None,
    mode: int = SmartSessionMode.ENABLE,
    with_paymaster: bool = False,
) -> EnableGrant:
    """The owner signs the enable of ``session`` (a Session, or the SDK's params for one) on ``account``.

    Reads the permission's enable nonce and the module's session digest from the chain (the module's digest
    must equal ours: a mismatch means another module build, and nothing is signed), then has ``owner`` sign
    the MultiChainSession typed data, with the permission id, account and what it enables in the signing
    context (policies see it; the audit trail records the signature with it). ``validator`` is the account's
    validator that checks the owner's signature (default: the account's owner validator).
    """
    if isinstance(session, CreateSessionDataParams):
        prepared = prepare_sessions(
            session, chain_id=account.chain_id, with_paymaster=with_paymaster, addresses=account.addresses
        )
        (session,) = prepared.sessions
    mode = _enable_mode(mode)
    chain_id = account.chain_id
    pid = session.permission_id
    nonce = read_enable_nonce(account, pid)
    smart_session = account.addresses.smart_sessions
    ours = session_digest(session, account.address, smart_session, nonce, mode)
    theirs = read_session_digest(account, session, mode)
    if ours != theirs:
        raise AAConfigurationError(
            f"SmartSession at {smart_session} computes session digest 0x{theirs.hex()} for permission 0x{pid.hex()}, "
            f"this client 0x{ours.hex()}: a module build whose enable hashing differs; nothing was signed",
            hint="point the address book at the Smart Sessions deployment the SDK targets (erc7579/smartsessions)",
        )
    message = signed_session(session, account.address, smart_session, nonce, mode)
    typed = multichain_typed_data([(chain_id, message)])
    validator = to_address(validator or account.owner_validator, "validator")
    context = {
        "permission_id": "0x" + pid.hex(),
        "account": account.address,
        "chain_id": chain_id,
        "enables": {
            "mode": mode.name,
            "session_key": session.session_key,
            "actions": [f"{a.action_target}:0x{a.action_target_selector.hex()}" for a in session.actions],
            "nonce": nonce,
            "validator": validator,
        },
    }
    signed = owner.sign_typed_data(full_message=typed, context=context)
    return EnableGrant(
        account=account.address,
        session=replace(session, chain_id=chain_id),
        chain_digests=(ChainDigest(chain_id, theirs),),
        chain_digest_index=0,
        validator=validator,
        owner=owner.address,
        owner_signature=bytes(signed.signature),
        nonce=nonce,
        mode=mode,
    )


# -- the op signature -----------------------------------------------------------------------------------------
def encode_enable_signature(grant: EnableGrant, session_signature: BytesLike) -> bytes:
    """mode ‖ FastLZ(abi.encode(EnableSession, sessionSig)), as module-sdk's encodeSmartSessionSignature."""
    enable_session = (
        grant.chain_digest_index,
        [(d.chain_id, d.session_digest) for d in grant.chain_digests],
        grant.session.as_tuple(),
        grant.permission_enable_sig,
    )
    payload = encode([ENABLE_SESSION_ABI, "bytes"], [enable_session, to_bytes(session_signature, "signature")])
    return bytes([grant.mode]) + compress(payload)


@dataclass(frozen=True)
class DecodedEnable:
    mode: SmartSessionMode
    chain_digest_index: int
    chain_digests: tuple[ChainDigest, ...]
    session: Session
    permission_enable_sig: bytes
    session_signature: bytes

    @property
    def permission_id(self) -> bytes:
        return self.session.permission_id


def decode_enable_signature(signature: BytesLike) -> DecodedEnable:
    """The parts of an ENABLE / UNSAFE_ENABLE signature; anything malformed is refused."""
    data = to_bytes(signature, "signature")
    if not data or data[0] not in ENABLE_MODES:
        raise AAConfigurationError("not a Smart Sessions ENABLE-mode signature (0x01 or 0x02 ‖ FastLZ data)")
    try:
        (index, digests, session, enable_sig), session_sig = decode([ENABLE_SESSION_ABI, "bytes"], decompress(data[1:]))
    except AAConfigurationError:
        raise
    except Exception:  # eth_abi raises several unrelated types for malformed data
        raise AAConfigurationError("the ENABLE-mode signature does not decode as (EnableSession, bytes)") from None
    return DecodedEnable(
        mode=SmartSessionMode(data[0]),
        chain_digest_index=index,
        chain_digests=tuple(ChainDigest(c, bytes(d)) for c, d in digests),
        session=session_from_tuple(session),
        permission_enable_sig=bytes(enable_sig),
        session_signature=bytes(session_sig),
    )


def enable_stub_signature(grant: EnableGrant) -> bytes:
    """The ENABLE-mode signature with OwnableValidator's mock signature, for gas estimation."""
    return encode_enable_signature(grant, OWNABLE_MOCK_SIGNATURE)


@dataclass(frozen=True)
class EnableValidation(Validation):
    """Sign a session op in ENABLE mode: the session key's signature goes into the grant's enable data."""

    grant: EnableGrant = field(kw_only=True)  # after Validation's defaulted fields: a keyword, and required

    def wrap(self, signature: bytes) -> bytes:
        return encode_enable_signature(self.grant, signature)


def enable_validation(account: SmartAccount, grant: EnableGrant) -> EnableValidation:
    return EnableValidation(
        validator=account.addresses.smart_sessions,
        stub=enable_stub_signature(grant),
        permission_id=grant.permission_id,
        grant=grant,
    )


# -- the local check ------------------------------------------------------------------------------------------
def _recovers_to(owner: str, digest: bytes, signature: bytes) -> bool:
    """Does ``signature`` recover to ``owner`` over ``digest`` or its EIP-191 form (what ECDSA owner validators
    accept)? A signature that does not parse does not recover."""
    if len(signature) != 65:
        return False
    try:
        sig = Signature.from_bytes(signature)
        candidates = {sig.recover(digest), sig.recover(personal_sign_hash(digest))}
    except Exception:  # malformed r/s/v: not the owner's
        return False
    return owner.lower() in {c.lower() for c in candidates}


def verify_enable(
    grant: EnableGrant, *, smart_session: str, chain_id: int | None, decoded: DecodedEnable | None = None
) -> None:
    """Refuse (EnableSignatureError) enable data (``decoded``, what an op carries; by default the grant's own)
    that the module would refuse or that the owner did not sign: the digest for this chain must be the Session's,
    for the grant's account and nonce, this module and the data's mode; the signed hash must recover to the
    grant's owner; the validator prefix must be the grant's validator."""
    data: DecodedEnable | EnableGrant = decoded if decoded is not None else grant
    account, owner, validator, nonce = grant.account, grant.owner, grant.validator, grant.nonce
    pid = "0x" + data.session.permission_id.hex()
    digests, index = data.chain_digests, data.chain_digest_index
    if not 0 <= index < len(digests):
        raise EnableSignatureError(f"enable data for permission {pid}: chain digest index {index} is out of range")
    if chain_id is not None and digests[index].chain_id != chain_id:
        raise EnableSignatureError(
            f"enable data for permission {pid} was signed for chain {digests[index].chain_id}, not chain {chain_id}"
        )
    expected = session_digest(data.session, account, smart_session, nonce, data.mode)
    if digests[index].session_digest != expected:
        raise EnableSignatureError(
            f"enable data for permission {pid}: its session digest is not the Session's for account {account}, "
            f"module {smart_session}, nonce {nonce} and mode {data.mode.name} (the module would revert HashMismatch)"
        )
    enable_sig = data.permission_enable_sig
    if enable_sig[:20] != to_bytes(validator, "validator", 20):
        raise EnableSignatureError(
            f"enable data for permission {pid} names validator 0x{enable_sig[:20].hex()}, not the owner's {validator}"
        )
    if not _recovers_to(owner, multichain_digest(digests), enable_sig[20:]):
        raise EnableSignatureError(
            f"the owner enable signature for permission {pid} does not recover to the account's owner {owner}"
        )


class EnableGrants:
    """Enable grants the session key's process may use, by permission id (process-wide: ``ENABLE_GRANTS``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[bytes, EnableGrant] = {}

    def register(self, grant: EnableGrant) -> bytes:
        with self._lock:
            self._grants[grant.permission_id] = grant
        return grant.permission_id

    def get(self, permission_id: bytes) -> EnableGrant | None:
        with self._lock:
            return self._grants.get(permission_id)

    def unregister(self, permission_id: bytes) -> None:
        with self._lock:
            self._grants.pop(permission_id, None)


ENABLE_GRANTS = EnableGrants()


def check_enable_operation(
    op: UserOperation,
    *,
    chain_id: int | None,
    signer: str | None,
    now: int,
    grants: EnableGrants = ENABLE_GRANTS,
    registry: ScopeRegistry | None = None,
    max_cost_wei: int | None = None,
) -> DecodedEnable:
    """The scope check of an ENABLE-mode op (scope.py's before_sign hook dispatches here).

    The enable data in the op must be exactly a registered grant's, and verify for the op's account, module
    and chain (``verify_enable``: the owner's signature recovers to the grant's owner); the signer must be the
    key of the Session it enables, and every call of the op must fit that Session (``check_scope``). Raises a
    ScopeViolationError before any key is used; returns the decoded signature."""
    from .scope import SCOPES, check_scope  # scope.py imports this module late: no cycle

    try:
        decoded = decode_enable_signature(op.signature)
    except AAConfigurationError as error:
        raise ScopeViolationError(f"ENABLE-mode op: {error.message}") from None
    pid = "0x" + decoded.permission_id.hex()
    grant = grants.get(decoded.permission_id)
    scope = (registry or SCOPES).get(decoded.permission_id)
    if grant is None or scope is None:
        raise ScopeViolationError(
            f"ENABLE-mode op for permission {pid}: no enable grant for it is known locally",
            hint="register the owner's EnableGrant (signers.aa.register_enable_grant) in the session key's process",
        )
    if grant.account != op.sender:
        raise EnableSignatureError(f"the enable grant for permission {pid} is for {grant.account}, not {op.sender}")
    if (decoded.session, decoded.chain_digests, decoded.chain_digest_index, decoded.permission_enable_sig) != (
        grant.session,
        grant.chain_digests,
        grant.chain_digest_index,
        grant.permission_enable_sig,
    ):
        raise EnableSignatureError(f"the enable data in the op for permission {pid} is not the registered grant's")
    module = split_nonce(op.nonce)[2]  # the validator the op is routed to
    if module != scope.addresses.smart_sessions:
        raise ScopeViolationError(
            f"the op enables permission {pid}, but its nonce selects validator {module}, not SmartSession "
            f"{scope.addresses.smart_sessions}",
            hint="read the nonce for the SmartSession validator (enable_validation)",
        )
    verify_enable(grant, smart_session=scope.addresses.smart_sessions, chain_id=chain_id, decoded=decoded)
    session_key = decoded.session.session_key
    if signer is not None and session_key and signer.lower() != session_key.lower():
        raise ScopeViolationError(
            f"permission {pid} enables session key {session_key}, not {signer}",
            hint="sign with the session key the owner enabled",
        )
    # the Session in the signature is the grant's (checked above): the op is held to it, with its cost bound
    check_scope(op, replace(scope, session=decoded.session), chain_id=chain_id, now=now, max_cost_wei=max_cost_wei)
    return decoded


def register_enable_grant(
    grant: EnableGrant,
    *,
    addresses: AddressBook | None = None,
    max_cost_wei: int | None = None,
    registry: ScopeRegistry | None = None,
) -> bytes:
    """Tell the local check that ``grant`` may be used (the session key's process calls this with the grant the
    owner handed over): its Session goes to the scope registry (``max_cost_wei``: each op's cost bound, as in
    ``register_session``), the grant to ``ENABLE_GRANTS``."""
    from .scope import SCOPES

    (registry or SCOPES).register(grant.session, account=grant.account, addresses=addresses, max_cost_wei=max_cost_wei)
    return ENABLE_GRANTS.register(grant)


def is_valid_on_chain(account: SmartAccount, grant: EnableGrant) -> bool:
    """The account's own answer (ERC-1271 isValidSignature through the grant's validator), as the module asks it."""
    data = IS_VALID_SIGNATURE_SELECTOR + encode(["bytes32", "bytes"], [grant.signed_hash, grant.permission_enable_sig])
    try:
        answer = account.node.call(account.address, data)
    except ContractCallError:
        return False
    return answer[:4] == IS_VALID_SIGNATURE_SELECTOR
