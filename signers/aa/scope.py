"""The local scope check: refuse a session UserOperation outside its grant before any key is used.

A ``before_sign`` hook implementation. It recognises a session op by its signature field, which holds the
USE-mode stub ``0x00 ‖ permissionId ‖ …`` while the op is being signed (``SmartAccount.sign_user_operation``
puts it there), or by the SmartSession module in the op's nonce key. It then looks the permission id up in a
``ScopeRegistry`` (filled by ``grant_permission`` and ``send_session_user_operation``, or by hand with
``register_session``) and checks every call of the op against the granted Session, as SmartSession would:
call type, target + selector, time frames (session and action), value limits, parameter rules, paymaster
permission, self-calls, a deployed account (no factory), at least one call. An unknown permission is
refused too (fail closed).

Gas limits and fees come from the bundler, so a session op is signed only under a cost bound: its maximum
cost (every gas limit, the paymaster's included, times maxFeePerGas) must be within the bound registered with
the session (``register_session(..., max_cost_wei=...)``, ``grant_permission(..., session_max_cost_wei=...)``),
else ``DEFAULT_SESSION_MAX_COST_WEI`` (0.01 ETH), and within a per-call bound when the caller gives one
(``max_cost_wei`` in the request context, as the flows do): the tighter bound holds.

A key that is or was a session key (registered once, even if since unregistered) signs only session ops
checked against a registered permission: an op for another validator, a message or a digest is refused.

Usage limits, cumulative value and ERC-20 spending are on-chain state: a Session registered with a node
(``register_session(..., node=NodeClient(url))``; the flows register the account's) has it read through the node
before signing (``limits.OnChainLimits``), and an op past a limit is refused. A Session with such limits and no
node fails closed (``LimitsUnavailableError``) unless registered with ``on_unreadable="open"``.
Turn the check off with ``scope_check_disabled()`` (for one block of code: it ends when the block ends, also
for tasks, threads and executors started inside it) or ``SessionScopeCheck.enabled = False``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from ..hookspecs import hookimpl
from .addresses import AddressBook, addresses_for
from .errors import AAConfigurationError, ScopeViolationError, SessionCostError
from .execution import CALLTYPE_BATCH, CALLTYPE_SINGLE, EXECTYPE_DEFAULT, EXECUTE_SELECTOR, Call, decode_execute
from .hexutil import BytesLike, to_address, to_bytes, uint
from .limits import DEFAULT_MAX_AGE, FAIL_CLOSED, OnChainLimits, OnUnreadable
from .policies import CallUnderCheck, Policy, describe_call, policies_at
from .sessions import ActionData, Session, decode_use_signature
from .user_operation import UserOperation

if TYPE_CHECKING:
    import pluggy

    from ..signature import Signature
    from ..signer import SignRequest
    from .rpc import NodeClient

# SmartSession's fallback action: any target (address(1)) and any selector (0x00000001).
FALLBACK_TARGET = "0x0000000000000000000000000000000000000001"
FALLBACK_SELECTOR = b"\x00\x00\x00\x01"

# What a session op may cost when nobody said: 0.01 ETH (at 30 gwei, about 330,000 gas: a session op with a
# few calls, with head-room). A session that needs more is registered with its own max_cost_wei.
DEFAULT_SESSION_MAX_COST_WEI = 10**16


@dataclass(frozen=True)
class GrantedScope:
    session: Session
    addresses: AddressBook
    account: str | None = None  # None: any account that enabled this permission
    max_cost_wei: int | None = None  # None: DEFAULT_SESSION_MAX_COST_WEI
    limits: OnChainLimits = OnChainLimits(None)  # where its on-chain limits are read (no node: fail closed)

    @property
    def permission_id(self) -> bytes:
        return self.session.permission_id

    @functools.cached_property
    def pid(self) -> str:
        """The permission id as refusals spell it (0x hex), made once, not for every op."""
        return "0x" + self.permission_id.hex()

    @functools.cached_property
    def policies(self) -> dict[str, Policy]:
        """``policies_at(addresses)``, kept: its cache would hash the whole AddressBook on every op."""
        return policies_at(self.addresses)

    @functools.cached_property
    def has_limits(self) -> bool:
        """Whether one of the session's policies keeps an on-chain limit (it can demand something of an op):
        only then are the limits read before signing and the op counted as pending after. Worked out once."""
        known = self.policies
        policies = [*self.session.user_op_policies, *(p for a in self.session.actions for p in a.action_policies)]
        return any(_keeps_limit(known.get(p.policy)) for p in policies)


def _keeps_limit(kind: Policy | None) -> bool:
    """A policy that can demand something of an op overrides op_demand or call_demand (the base's say None)."""
    return kind is not None and (
        type(kind).op_demand is not Policy.op_demand or type(kind).call_demand is not Policy.call_demand
    )


class ScopeRegistry:
    """Granted sessions by permission id (process-wide by default: ``SCOPES``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scopes: dict[bytes, GrantedScope] = {}
        # the SmartSession modules of the registered scopes, read on every session op: kept, not rebuilt
        self._modules: frozenset[str] = frozenset()
        # every key ever registered (lowercase), kept after its permissions are unregistered: a revoked
        # session key still signs nothing but checked session ops. Read on every signature: kept, not rebuilt.
        self._session_keys: frozenset[str] = frozenset()
        # revoked permissions and keys (SessionManager.revoke): refused at once, before the removal op lands
        self._revoked_ids: set[bytes] = set()
        self._revoked_keys: frozenset[str] = frozenset()
        # one limits reader per (node, on_unreadable, max_age): sessions read through one node share its cache
        self._limits: dict[tuple[int, str, float], tuple[NodeClient | None, OnChainLimits]] = {}
        # its readers, which every signed op invalidates: kept, not listed under the lock on every op
        self._readers: tuple[OnChainLimits, ...] = ()

    def limits_for(
        self, node: NodeClient | None, on_unreadable: OnUnreadable = FAIL_CLOSED, max_age: float = DEFAULT_MAX_AGE
    ) -> OnChainLimits:
        """The shared reader of on-chain limits through ``node`` (None: no node, nothing can be read)."""
        key = (id(node), on_unreadable, max_age)
        with self._lock:
            known = self._limits.get(key)
            if known is None:
                known = self._limits[key] = (node, OnChainLimits(node, max_age=max_age, on_unreadable=on_unreadable))
                self._readers = (*self._readers, known[1])
            return known[1]

    def signed(self, op: UserOperation) -> None:
        """``op`` was signed: a session op takes its share of its limits until included, and what was read of its
        account's limits is stale."""
        scope = self.granted(_permission_id(op))
        if scope is not None and scope.has_limits:
            scope.limits.signed(scope, op, decode_execute(op.call_data).calls)
        for reader in self._readers:
            reader.invalidate(op.sender)

    def register(
        self,
        session: Session,
        *,
        account: str | None = None,
        addresses: AddressBook | None = None,
        max_cost_wei: int | None = None,
        node: NodeClient | None = None,
        on_unreadable: OnUnreadable = FAIL_CLOSED,
        limits_max_age: float = DEFAULT_MAX_AGE,
    ) -> bytes:
        """Register (or replace) ``session`` (what it grants; returns its permission id); ``max_cost_wei`` bounds
        what each of its ops may cost (default: ``DEFAULT_SESSION_MAX_COST_WEI``). ``node`` is where its on-chain
        limits are read (re-read when a read is older than ``limits_max_age`` seconds); ``on_unreadable`` says what
        to do when they cannot be read (no node, node down): ``"closed"`` refuses the op (default), ``"open"`` signs
        it with a warning. ``register_session`` is this method of the process-wide registry."""
        if addresses is not None:
            book = addresses
        else:
            book = addresses_for(session.chain_id) if session.chain_id is not None else AddressBook()
        _check_policies_known(session, book)
        if max_cost_wei is not None:
            uint(max_cost_wei, 256, "max_cost_wei")
        limits = self.limits_for(node, on_unreadable, limits_max_age)
        scope = GrantedScope(session, book, to_address(account) if account else None, max_cost_wei, limits)
        with self._lock:
            self._scopes[scope.permission_id] = scope
            self._modules_changed()
            if session.session_key:
                self._session_keys = self._session_keys | {session.session_key.lower()}
        return scope.permission_id

    def unregister(self, permission_id: BytesLike) -> None:
        """Forget a permission (revoked); its session key stays marked as one."""
        with self._lock:
            self._scopes.pop(to_bytes(permission_id, "permission_id", 32), None)
            self._modules_changed()

    def revoke(self, permission_id: BytesLike) -> None:
        """Refuse every op for this permission from now on (and forget its scope): it is being removed on chain."""
        pid = to_bytes(permission_id, "permission_id", 32)
        with self._lock:
            self._scopes.pop(pid, None)
            self._modules_changed()
            self._revoked_ids.add(pid)

    def revoke_key(self, session_key: str) -> None:
        """Refuse every op this session key signs, whatever its permission (a key suspected compromised)."""
        with self._lock:
            self._revoked_keys = self._revoked_keys | {to_address(session_key).lower()}
            self._session_keys = self._session_keys | {to_address(session_key).lower()}

    def is_revoked(self, permission_id: bytes | None = None, session_key: str | None = None) -> bool:
        with self._lock:
            return (permission_id is not None and permission_id in self._revoked_ids) or (
                session_key is not None and session_key.lower() in self._revoked_keys
            )

    def get(self, permission_id: BytesLike) -> GrantedScope | None:
        with self._lock:
            return self._scopes.get(to_bytes(permission_id, "permission_id", 32))

    def granted(self, permission_id: bytes | None) -> GrantedScope | None:
        """``get`` for the permission id read from an op (32 bytes already, or None: no USE stub)."""
        if permission_id is None:
            return None
        with self._lock:
            return self._scopes.get(permission_id)

    def session_keys(self) -> frozenset[str]:
        """The (lowercase) addresses of every key registered as a session key, now or before."""
        return self._session_keys

    def smart_sessions_addresses(self) -> set[str]:
        return set(self._modules)

    def is_smart_sessions(self, address: str) -> bool:
        """Whether ``address`` (checksummed) is the SmartSession module of a registered session."""
        return address in self._modules

    def _modules_changed(self) -> None:
        """Recompute the SmartSession addresses after ``_scopes`` changed (the caller holds the lock)."""
        self._modules = frozenset(s.addresses.smart_sessions for s in self._scopes.values())

    def clear(self) -> None:
        """Forget everything, which keys were session keys included (a fresh registry, for tests)."""
        with self._lock:
            self._scopes.clear()
            self._modules = frozenset()
            self._session_keys = frozenset()
            self._revoked_ids.clear()
            self._revoked_keys = frozenset()


SCOPES = ScopeRegistry()


def _check_policies_known(session: Session, book: AddressBook) -> None:
    """Refuse a Session whose policies are not this book's: the check compares policy addresses, and a
    policy it does not recognise would otherwise be skipped silently (say, a grant from another deployment)."""
    known = set(policies_at(book))
    policies = [*session.user_op_policies, *(p for a in session.actions for p in a.action_policies)]
    unknown = sorted({p.policy for p in policies} - known)
    if unknown:
        raise AAConfigurationError(
            f"session 0x{session.permission_id.hex()} uses policies {', '.join(unknown)} that the address book "
            f"does not know (its policies: {', '.join(sorted(known))})",
            hint="register the deployment's AddressBook (register_addresses) or pass addresses= when registering",
        )


# Tell the scope check what a Session grants: the session key's process calls this with the Session the granter
# handed over (ScopeRegistry.register on the process-wide registry; returns the permission id).
register_session = SCOPES.register


class _Block:
    """One ``scope_check_disabled()`` block, open while it runs. The context variable holds this object, not a
    flag: a copy of the context (a task, ``to_thread``, an executor given the context) shares it, so it sees
    the block end too. ``outer`` is the block it was opened in (nested blocks)."""

    __slots__ = ("open", "outer")

    def __init__(self, outer: _Block | None) -> None:
        self.open = True
        self.outer = outer

    def running(self) -> bool:
        block: _Block | None = self
        while block is not None:
            if block.open:
                return True
            block = block.outer
        return False


_disabled: contextvars.ContextVar[_Block | None] = contextvars.ContextVar(
    "signers_aa_scope_check_disabled", default=None
)


def _check_is_off() -> bool:
    block = _disabled.get()
    return block is not None and block.running()


@contextlib.contextmanager
def scope_check_disabled() -> Iterator[None]:
    """Sign session ops without the local check inside this block (to let the chain refuse them). It ends
    when the block ends, for every task and thread started inside it as well."""
    block = _Block(_disabled.get())
    token = _disabled.set(block)
    try:
        yield
    finally:
        block.open = False  # first: copies of the context see it end even if the reset below cannot run
        _disabled.reset(token)


# -- the checks --------------------------------------------------------------------------------------------
def match_action(session: Session, call: Call) -> ActionData | None:
    """The granted action SmartSession checks ``call`` against: its target and selector, else the fallback
    (the first of each; one pass over the actions)."""
    to, selector = call.to, call.selector
    fallback = None
    for action in session.actions:
        target = action.action_target
        if target == to and action.action_target_selector == selector:
            return action
        if fallback is None and target == FALLBACK_TARGET and action.action_target_selector == FALLBACK_SELECTOR:
            fallback = action
    return fallback


def _check_cost(op: UserOperation, scope: GrantedScope, max_cost_wei: int | None) -> None:
    """The op's maximum cost against the tighter of the session's bound (or the default) and the call's."""
    bound = DEFAULT_SESSION_MAX_COST_WEI if scope.max_cost_wei is None else scope.max_cost_wei
    if max_cost_wei is not None and max_cost_wei < bound:
        bound = max_cost_wei
    if op.max_cost_wei > bound:
        _refuse_cost(op, scope, max_cost_wei)


def _refuse_cost(op: UserOperation, scope: GrantedScope, max_cost_wei: int | None) -> NoReturn:
    """Raise the SessionCostError of an op over its bound, naming the bound that held and where it came from."""
    pid = scope.pid
    if scope.max_cost_wei is not None:
        bound, source = scope.max_cost_wei, f"the bound {scope.max_cost_wei} wei registered with session {pid}"
        hint: str | None = None  # SessionCostError's own: register a higher bound
    else:
        bound = DEFAULT_SESSION_MAX_COST_WEI
        source = f"the default bound {bound} wei (DEFAULT_SESSION_MAX_COST_WEI, 0.01 ETH) of session {pid}"
        hint = (
            "if the network is that expensive, give the session a bound: register_session(..., max_cost_wei=...) "
            "or grant_permission(..., session_max_cost_wei=...); else use another bundler"
        )
    if max_cost_wei is not None and max_cost_wei < bound:
        bound, source = max_cost_wei, f"the per-call bound {max_cost_wei} wei (max_cost_wei)"
        hint = "raise the call's max_cost_wei (the session's bound still holds), or use another bundler"
    raise SessionCostError(
        f"the op could cost up to {op.max_cost_wei} wei ({op.max_gas} gas at maxFeePerGas {op.max_fee_per_gas} wei), "
        f"over {source}; nothing was signed",
        hint=hint,
    )


def check_scope(
    op: UserOperation,
    scope: GrantedScope,
    *,
    chain_id: int | None = None,
    now: int | None = None,
    max_cost_wei: int | None = None,
) -> None:
    """Raise ScopeViolationError naming the first thing in ``op`` that ``scope`` does not grant, or a
    SessionCostError if it could cost more than its bound (``max_cost_wei``: a per-call bound, tighter only)."""
    now = int(time.time()) if now is None else now
    session = scope.session
    if scope.account is not None and op.sender != scope.account:
        raise ScopeViolationError(f"permission {scope.pid} was granted on {scope.account}, not on {op.sender}")
    if chain_id is not None and session.chain_id is not None and chain_id != session.chain_id:
        raise ScopeViolationError(
            f"permission {scope.pid} was granted on chain {session.chain_id}, not chain {chain_id}"
        )
    if op.factory is not None:
        # the account's own factory data names its owner, not the session key; the SDK never sends one
        raise ScopeViolationError(
            f"session {scope.pid}: the op deploys its account (factory {op.factory}); a session key acts only on a "
            "deployed account",
            hint="deploy the account with an owner op first (install_smart_sessions does), then send without factory",
        )
    known = scope.policies
    for policy in session.user_op_policies:
        kind = known.get(policy.policy)
        if kind is not None:
            kind.check_op(policy.init_data, f"session {scope.pid}", now)
    if op.paymaster is not None and not session.permit_erc4337_paymaster:
        raise ScopeViolationError(
            f"session {scope.pid} was granted without paymaster permission, but the op uses paymaster {op.paymaster}",
            hint="grant the session with a paymaster (permitERC4337Paymaster) or send without one",
        )
    if op.call_data[:4] != EXECUTE_SELECTOR:
        raise ScopeViolationError(
            f"a session op must call execute(bytes32,bytes), not selector 0x{op.call_data[:4].hex()}"
        )
    decoded = decode_execute(op.call_data)
    if decoded.call_type not in (CALLTYPE_SINGLE, CALLTYPE_BATCH) or decoded.exec_type != EXECTYPE_DEFAULT:
        raise ScopeViolationError(
            f"Smart Sessions accepts only single or batch execute in default mode, not mode 0x{decoded.mode[:2].hex()}"
        )
    if not decoded.calls:
        raise ScopeViolationError(
            f"session {scope.pid}: the batch executes no call; a session op must execute at least one granted call",
            hint="send at least one call",
        )
    value_spent: dict[tuple[str, bytes], int] = {}
    for index, call in enumerate(decoded.calls):
        if call.to == op.sender and call.selector == EXECUTE_SELECTOR:
            raise ScopeViolationError(
                f"{describe_call(index, call)}: a session may not call execute on the account itself", call_index=index
            )
        action = match_action(session, call)
        if action is None:
            granted = (
                ", ".join(f"{a.action_target}:0x{a.action_target_selector.hex()}" for a in session.actions) or "nothing"
            )
            raise ScopeViolationError(
                f"{describe_call(index, call)} is outside session {scope.pid} (granted: {granted})",
                call_index=index,
                hint="call a granted target and function, or grant a session that includes it",
            )
        under_check = CallUnderCheck(call, action, index, now, value_spent)
        for policy in action.action_policies:
            kind = known.get(policy.policy)
            if kind is not None:  # every policy of a registered Session is known (_check_policies_known)
                kind.check_call(policy.init_data, under_check)
    # last: what the op is comes before what the bundler made it cost
    _check_cost(op, scope, max_cost_wei)


class SessionScopeCheck:
    """The before_sign hook. Register it once per plugin manager (``enable_scope_check()`` does)."""

    def __init__(self, registry: ScopeRegistry = SCOPES, clock: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.clock = clock
        self.enabled = True

    @hookimpl
    def before_sign(self, request: SignRequest) -> None:
        if request.kind != "user_operation" or not isinstance(request.payload, UserOperation):
            # A session op's signature is personal_sign over its userOpHash: a session key that signed any
            # other message or digest could sign an out-of-scope op around this check. So it signs nothing else.
            if self.enabled and not _check_is_off() and request.signer.address.lower() in self.registry.session_keys():
                raise ScopeViolationError(
                    f"{request.signer.address} is a session key: it signs session UserOperations only, not a "
                    f"{request.kind.replace('_', ' ')}",
                    hint="sign other things with another key, or inside scope_check_disabled()",
                )
            return
        if not self.enabled or _check_is_off():
            return
        chain_id = request.context.get("chain_id")
        self.check(
            request.payload,
            chain_id if isinstance(chain_id, int) else None,
            signer=request.signer.address,
            max_cost_wei=_per_call_bound(request.context),
        )

    def check(
        self,
        op: UserOperation,
        chain_id: int | None = None,
        *,
        signer: str | None = None,
        max_cost_wei: int | None = None,
    ) -> None:
        """Refuse ``op`` if it is a session op outside its registered scope or over its cost bound (no-op when
        turned off), if ``signer`` is not the session's key (the chain would refuse its signature with AA24),
        or if ``signer`` is (or was) a session key and ``op`` is not checked against a registered permission."""
        if not self.enabled or _check_is_off():
            return
        pid = _permission_id(op)
        validator = to_address(((op.nonce >> 64) & ((1 << 160) - 1)).to_bytes(20, "big"))  # EIP-55, remembered
        if self.registry.is_revoked(pid, signer):
            what = f"permission 0x{pid.hex()}" if pid is not None and self.registry.is_revoked(pid) else f"key {signer}"
            raise ScopeViolationError(
                f"{what} was revoked: its session ops are refused here from the moment of revocation, even before "
                "the removal lands on chain",
                hint="use the permission (and key) that replaced it, or have the owner grant a new session",
            )
        session_module = self.registry.is_smart_sessions(validator) or (
            chain_id is not None and validator == addresses_for(chain_id).smart_sessions
        )
        if session_module and op.signature[:1] in (b"\x01", b"\x02"):
            # ENABLE / UNSAFE_ENABLE: the Session to check the op against travels in the signature
            from .enable import check_enable_operation

            check_enable_operation(
                op, chain_id=chain_id, signer=signer, now=int(self.clock()), registry=self.registry,
                max_cost_wei=max_cost_wei,
            )  # fmt: skip
            return
        scope = self.registry.granted(pid)
        if scope is None:
            use_shaped = pid is not None and len(op.signature) == 1 + 32 + 65  # 0x00 ‖ permissionId ‖ r‖s‖v
            if session_module or use_shaped:
                what = (
                    f"permission 0x{pid.hex()}"
                    if pid is not None
                    else "an unknown permission (no USE stub in op.signature)"
                )
                raise ScopeViolationError(
                    f"session UserOperation for {what}: its scope is not known locally",
                    hint="register the granted Session with signers.aa.register_session(session), "
                    "or sign inside scope_check_disabled()",
                )
            if signer is not None and signer.lower() in self.registry.session_keys():
                # no permission to check this op against: a session key's signature on it would be unchecked
                raise ScopeViolationError(
                    f"{signer} is a session key (registered now or before): it signs only session UserOperations "
                    f"checked against a registered permission, and this op names none (its nonce selects "
                    f"validator {validator})",
                    hint="sign owner operations with the owner key, or inside scope_check_disabled()",
                )
            return
        if validator != scope.addresses.smart_sessions:
            raise ScopeViolationError(
                f"the op carries permission 0x{scope.permission_id.hex()}, but its nonce selects validator "
                f"{validator}, not SmartSession {scope.addresses.smart_sessions}: the chain would not check it "
                "against the session",
                hint="read the nonce for the SmartSession validator (account.session_validation)",
            )
        session_key = scope.session.session_key
        if signer is not None and session_key and signer.lower() != session_key.lower():
            raise ScopeViolationError(
                f"permission 0x{scope.permission_id.hex()} belongs to session key {session_key}, not to {signer}",
                hint="sign with the session key the permission was granted to",
            )
        check_scope(op, scope, chain_id=chain_id, now=int(self.clock()), max_cost_wei=max_cost_wei)
        # last, as it reads the node: what the op would consume of the policies' on-chain state
        if scope.has_limits:
            scope.limits.check(scope, op.sender, decode_execute(op.call_data).calls)

    @hookimpl
    def after_sign(self, request: SignRequest, signature: Signature) -> None:
        """A signed op will consume some of its account's on-chain limits: count it as pending, read again."""
        if request.kind == "user_operation" and isinstance(request.payload, UserOperation):
            self.registry.signed(request.payload)


def _permission_id(op: UserOperation) -> bytes | None:
    """The permission id of the USE stub in ``op.signature``; None if the signature holds none."""
    try:
        return decode_use_signature(op.signature)[0]
    except AAConfigurationError:
        return None


def _per_call_bound(context: Any) -> int | None:
    """The caller's ``max_cost_wei`` for this signature, if any; a malformed one is refused, not ignored."""
    bound = context.get("max_cost_wei")
    if bound is None:
        return None
    if isinstance(bound, bool) or not isinstance(bound, int) or not 0 <= bound < 1 << 256:
        raise ScopeViolationError(
            "the per-call max_cost_wei must be an int from 0 to 2**256 - 1",
            hint="pass the bound in wei as an int, or leave it out to use the session's",
        )
    return bound


_installed: dict[int, SessionScopeCheck] = {}
_install_lock = threading.Lock()


def enable_scope_check(plugin_manager: pluggy.PluginManager | None = None) -> SessionScopeCheck:
    """Register the scope check on ``plugin_manager`` (default: the global one) once; return it."""
    if plugin_manager is None:
        from ..plugins import get_plugin_manager

        plugin_manager = get_plugin_manager()
    with _install_lock:
        existing = plugin_manager.get_plugin(PLUGIN_NAME)
        if existing is not None:
            # the built-in "aa-scope" plugin is signers.session_scope's forwarder to SCOPE_CHECK
            return getattr(existing, "target", existing)  # type: ignore[no-any-return]
        check = SessionScopeCheck()
        plugin_manager.register(check, name=PLUGIN_NAME)
        _installed[id(plugin_manager)] = check
        return check


PLUGIN_NAME = "aa-scope"
# The instance the "aa-scope" entry point names: registered on the global plugin manager for every Signer.
SCOPE_CHECK = SessionScopeCheck()
