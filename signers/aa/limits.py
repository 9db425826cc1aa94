"""On-chain limits known before signing: what a session op would consume of its policies' state on the chain.

SmartSession's limit policies keep state the client cannot know by itself: how many uses a UsageLimitPolicy has
counted, how much native value a ValueLimitPolicy has let through, how much of each token an
ERC20SpendingLimitPolicy has seen spent or approved. ``OnChainLimits`` reads that state through the node, adds
what the op would consume (per policy and config, as SmartSession would call the policies), and refuses an op that
would pass a limit with ``SessionLimitError``, naming the policy, the limit and what is left, before any key is
used. The scope check (``SessionScopeCheck``) calls it for every session op of a Session registered with a node.

Where the state lives (erc7579/smartsessions ``f5aaf86``, and the local chain's stand-ins, same layout):

* config ids: a userOp policy's is ``keccak(account ‖ permissionId)``, an action policy's is
  ``keccak(account ‖ keccak(permissionId ‖ keccak(target ‖ selector)))`` (IdLib);
* UsageLimitPolicy: slot-0 mapping ``[configId][multiplexer][account] -> (uint128 limit, uint128 used)``, one word;
* ValueLimitPolicy: slot-0 mapping ``[configId][multiplexer][account] -> (uint256 limit, uint256 used)``, two words;
* ERC20SpendingLimitPolicy: ``getPolicyData(configId, multiplexer, token, account) -> (limit, spent, approved)``,
  a view function (it reverts for a token the config does not name: limit 0).

The first two are read with ``eth_getStorageAt``: their public getters are named differently in the deployed
build (``usageLimitConfigs`` / ``valueLimitConfigs``) and in the local chain's stand-ins, their storage is the same.

Reads are cached for ``max_age`` seconds (default 2 s), and the cache of an account is dropped as soon as one of
its ops is signed (``signed``), so the next op re-reads the chain. An op signed by another process is seen once the
cached read is older than ``max_age``. Ops signed here and not yet included count as used too (several ops in
flight at once): each is pending until the EntryPoint's nonce for its key moves past it (it landed, and the chain
state has it) or for ``PENDING_TTL`` seconds (a bundler that dropped it).

If the node cannot be read (or the Session was registered without one) the check fails closed by default
(``LimitsUnavailableError``), or open when registered with ``on_unreadable="open"``: a warning says the op is
signed without the limit check and the chain still enforces it.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

from .errors import (
    ContractCallError,
    LimitsUnavailableError,
    RpcUnavailableError,
    ScopeViolationError,
    SessionLimitError,
)
from .execution import Call
from .hexutil import to_bytes
from .policies import Policy, describe_call, policies_at
from .policies import mapping_slot as mapping_slot  # where it was first defined; tests and users import it here

if TYPE_CHECKING:
    from .rpc import NodeClient
    from .scope import GrantedScope
    from .user_operation import UserOperation

log = logging.getLogger("signers.aa.limits")

OnUnreadable = Literal["closed", "open"]
FAIL_CLOSED: OnUnreadable = "closed"
FAIL_OPEN: OnUnreadable = "open"
DEFAULT_MAX_AGE = 2.0  # seconds a read may serve before the check reads again
PENDING_TTL = 120.0  # seconds an op signed here counts as pending at most (a bundler drops what it cannot include)

GET_NONCE = function_signature_to_4byte_selector("getNonce(address,uint192)")


@functools.lru_cache(maxsize=1024)  # keccaks of a grant's fixed ids, asked for on every signed op
def user_op_config_id(account: str, permission_id: bytes) -> bytes:
    """SmartSession's config id of a userOp policy (IdLib.toConfigId(UserOpPolicyId, account))."""
    return keccak(to_bytes(account) + permission_id)


@functools.lru_cache(maxsize=1024)  # keccaks of a grant's fixed ids, asked for on every signed op
def action_config_id(account: str, permission_id: bytes, target: str, selector: bytes) -> bytes:
    """SmartSession's config id of an action policy (IdLib.toConfigId(PermissionId, ActionId, account))."""
    return keccak(to_bytes(account) + keccak(permission_id + keccak(to_bytes(target) + selector)))


@dataclass(frozen=True)
class Demand:
    """What an op would take from one policy config: ``amount`` of it, for ``what`` (named in refusals)."""

    kind: Policy
    policy: str
    config_id: bytes
    token: str | None  # ERC-20 only
    amount: int
    what: str

    @property
    def policy_name(self) -> str:
        return self.kind.name


@dataclass(frozen=True)
class LimitState:
    limit: int
    used: int  # ERC-20: spent + approved; pending ops included
    pending: int = 0  # of ``used``: what ops signed here and not yet included take

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)


@dataclass(frozen=True, eq=False)  # each signed op is its own entry
class Pending:
    """What one op signed here takes from one policy config until it is included."""

    amount: int
    sender: str
    nonce: int
    entry_point: str
    signed_at: float


def demands(scope: GrantedScope, account: str, calls: Sequence[Call]) -> list[Demand]:
    """Everything the op (``calls`` from ``account``) would take from the session's limit policies, summed per
    policy config (and token), in the order SmartSession checks them."""
    from .scope import match_action

    session, known = scope.session, policies_at(scope.addresses)
    pid = scope.permission_id
    totals: dict[tuple[str, bytes, str | None], Demand] = {}

    def add(kind: Policy, policy: str, config_id: bytes, token: str | None, amount: int, what: str) -> None:
        key = (policy, config_id, token)
        before = totals.get(key)
        totals[key] = Demand(kind, policy, config_id, token, amount + (before.amount if before else 0), what)

    op_config = user_op_config_id(account, pid)
    for policy in session.user_op_policies:
        kind = known.get(policy.policy)
        amount = kind.op_demand(calls) if kind is not None else None
        if kind is not None and amount is not None:
            add(kind, policy.policy, op_config, None, amount, kind.op_what)
    for index, call in enumerate(calls):
        action = match_action(session, call)
        if action is None:
            continue  # the local scope check refuses it
        config = action_config_id(account, pid, action.action_target, action.action_target_selector)
        what = f"action {action.action_target}:0x{action.action_target_selector.hex()}"
        for policy in action.action_policies:
            kind = known.get(policy.policy)
            taken = kind.call_demand(call, account, describe_call(index, call), index) if kind is not None else None
            if kind is not None and taken is not None:
                amount, token = taken
                add(kind, policy.policy, config, token, amount, what if token is None else f"{what}, token {token}")
    return list(totals.values())


class OnChainLimits:
    """Reads (and briefly caches) the limit policies' state through ``node`` and refuses an op past a limit.

    ``node`` None: nothing can be read, so a session with limits fails closed (or open, as configured)."""

    def __init__(
        self,
        node: NodeClient | None,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        on_unreadable: OnUnreadable = FAIL_CLOSED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if on_unreadable not in (FAIL_CLOSED, FAIL_OPEN):
            raise ScopeViolationError(
                "on_unreadable must be 'closed' or 'open'", hint="leave it out to fail closed (the default)"
            )
        if max_age < 0:
            raise ScopeViolationError("max_age must be >= 0 seconds", hint="0 reads the chain before every signature")
        self.node = node
        self.max_age = max_age
        self.on_unreadable = on_unreadable
        self.clock = clock
        self.reads = 0  # node reads made (a figure for tests and metrics)
        self._lock = threading.Lock()
        # (account lowercase, policy, config id, token) -> (read at, state)
        self._cache: dict[tuple[str, str, bytes, str | None], tuple[float, LimitState]] = {}
        # the same keys -> what ops signed here take, until they are included
        self._pending: dict[tuple[str, str, bytes, str | None], list[Pending]] = {}

    def __repr__(self) -> str:
        return f"OnChainLimits(node={self.node!r}, max_age={self.max_age}, on_unreadable={self.on_unreadable!r})"

    def invalidate(self, account: str) -> None:
        """Forget what was read for ``account`` (the next check reads the chain again)."""
        if not self._cache:
            # nothing read (every op of a session without limits comes here): no lock, no scan. A read cached just
            # after this test is one the lock would equally have let in just after the scan.
            return
        who = account.lower()
        with self._lock:
            for key in [k for k in self._cache if k[0] == who]:
                del self._cache[key]

    def signed(self, scope: GrantedScope, op: UserOperation, calls: Sequence[Call]) -> None:
        """``op`` (``calls`` from its sender under ``scope``) was signed: it takes its share until it is included."""
        now = self.clock()
        with self._lock:
            for demand in demands(scope, op.sender, calls):
                key = (op.sender.lower(), demand.policy, demand.config_id, demand.token)
                pending = Pending(demand.amount, op.sender, op.nonce, scope.addresses.entry_point, now)
                self._pending.setdefault(key, []).append(pending)
        self.invalidate(op.sender)

    def check(self, scope: GrantedScope, account: str, calls: Sequence[Call]) -> None:
        """Raise SessionLimitError if the op would pass a limit, LimitsUnavailableError if the state cannot be
        read and the check fails closed."""
        wanted = demands(scope, account, calls)
        if not wanted:
            return
        pid = "0x" + scope.permission_id.hex()
        names = ", ".join(sorted({d.policy_name for d in wanted}))
        if self.node is None:
            self._unreadable(
                f"session {pid} has on-chain limits ({names}) and was registered without a node to read them"
            )
            return
        for demand in wanted:
            try:
                state = self._state(scope, account, demand)
            except RpcUnavailableError as error:
                self._unreadable(f"session {pid}: the {demand.policy_name} state cannot be read ({error.message})")
                return
            if state.used + demand.amount > state.limit:
                pending = f" ({state.pending} by ops signed here, not yet included)" if state.pending else ""
                raise SessionLimitError(
                    f"session {pid}: {demand.policy_name} ({demand.policy}) on {demand.what}: limit {state.limit} "
                    f"{demand.kind.unit}, {state.used} used{pending}, {state.left} left; this op needs "
                    f"{demand.amount}; nothing was signed"
                )

    def _unreadable(self, why: str) -> None:
        if self.on_unreadable == FAIL_OPEN:
            log.warning(
                "%s: failing open (on_unreadable='open'): signed without the limit check, the chain enforces it", why
            )
            return
        raise LimitsUnavailableError(f"{why}: failing closed (on_unreadable='closed'), nothing was signed")

    def _state(self, scope: GrantedScope, account: str, demand: Demand) -> LimitState:
        key = (account.lower(), demand.policy, demand.config_id, demand.token)
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] <= self.max_age:
            return cached[1]
        # what is still pending first, the chain state after: an op landing in between is counted twice (a
        # refusal too many for a moment), never missed
        pending = self._still_pending(key, now)
        state = self._read(scope.addresses.smart_sessions, account, demand)
        state = LimitState(state.limit, state.used + pending, pending)
        with self._lock:
            self._cache[key] = (now, state)
        return state

    def _still_pending(self, key: tuple[str, str, bytes, str | None], now: float) -> int:
        """The sum of the pending ops of ``key`` whose nonce the EntryPoint has not used yet (others dropped)."""
        node = self._node()
        with self._lock:
            entries = list(self._pending.get(key, ()))
        kept = []
        for entry in entries:
            if now - entry.signed_at > PENDING_TTL:
                continue
            data = GET_NONCE + encode(["address", "uint192"], [entry.sender, entry.nonce >> 64])
            (current,) = decode(["uint256"], node.call(entry.entry_point, data))
            if int(current) <= entry.nonce:
                kept.append(entry)
        dropped = {id(e) for e in entries} - {id(e) for e in kept}  # included, or past PENDING_TTL
        with self._lock:
            left = [e for e in self._pending.get(key, ()) if id(e) not in dropped]
            if left:
                self._pending[key] = left
            else:
                self._pending.pop(key, None)
        return sum(e.amount for e in kept)

    def _node(self) -> NodeClient:
        # check() answers a node-less instance before any read; this guards the reads called on their own
        if self.node is None:
            raise LimitsUnavailableError("on-chain limits: no node to read them from; nothing was signed")
        return self.node

    def _read(self, multiplexer: str, account: str, demand: Demand) -> LimitState:
        self.reads += 1
        return LimitState(*demand.kind.read_limit(self, demand, multiplexer, account))

    def call(self, address: str, data: bytes) -> bytes:
        """eth_call through the node (a policy's view function)."""
        return self._node().call(address, data)

    def storage(self, address: str, slot: int) -> int:
        """One storage word of ``address`` through the node."""
        node = self._node()
        try:
            result = node.request("eth_getStorageAt", [address, hex(slot), "latest"])
        except ContractCallError as error:  # a node that refuses the method: as good as unreachable here
            raise RpcUnavailableError(f"eth_getStorageAt: {error.message}") from None
        return int.from_bytes(to_bytes(result, "eth_getStorageAt result"), "big")
