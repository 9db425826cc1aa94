"""SessionManager: an operator's lifecycle of one account's Smart Sessions permissions (list, revoke, rotate).

    manager = SessionManager(account, owner=owner_signer, bundler=bundler, audit=trail)
    manager.permissions()                          the chain's permissions joined with the audit trail
    manager.revoke(session_key=K)                  every permission of K removed in one owner op (a batch)
    manager.rotate(pid, current_key=signer, ...)   a new key in the same custody, same scope, new expiry
    manager.rotate_before(margin, ...)             rotate what expires within ``margin`` seconds (a schedule)

Where the facts come from. The permissions an account has are SmartSession's ``SessionCreated(permissionId,
account)`` events, each confirmed with ``isPermissionEnabled``; a permission's Session (session key, scope,
expiry) is read from the op that enabled it (the bundle transaction's ``handleOps`` input: an owner op calling
``enableSessions``, or an ENABLE-mode session op), else from the local scope registry; how much it was used comes
from the audit trail (``AuditTrail.summary`` per permission id).

Revocation refuses the permissions (and, by key, the key) locally first, in the scope registry, so no signature
for them leaves this process from that moment on, even before the removal op lands; then the owner signs one op
removing them all. Rotation keeps a key working at every moment: the new permission is granted, and a test op
under it must land, before the old one is revoked; ops the old key signed before its revocation are waited for
(found in the audit trail) before the removal op is sent, so none is dropped by the bundler half-way.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from eth_abi import decode
from eth_utils import event_signature_to_log_topic, function_signature_to_4byte_selector

from .accounts import SmartAccount
from .bundler import BundlerClient
from .enable import decode_enable_signature
from .errors import AAConfigurationError, AAError, SessionManagerError, UserOperationFailedError
from .execution import CALLTYPE_BATCH, CALLTYPE_SINGLE, EXECUTE_SELECTOR, Call, as_call, decode_execute
from .flows import UserOperationResult, _submit, build_user_operation, send_session_user_operation
from .hexutil import BytesLike, to_address, to_bytes
from .policies import TIME_FRAME, time_frame_init_data
from .scope import SCOPES, ScopeRegistry
from .sessions import (
    ENABLE_SESSIONS_SELECTOR,
    PolicyData,
    Session,
    decode_enable_sessions,
    encode_enable_sessions,
    encode_remove_session,
    encode_validation_data,
)
from .user_operation import UserOperation

if TYPE_CHECKING:
    from ..audit import AuditTrail
    from ..signer import Signer

SESSION_CREATED = "0x" + event_signature_to_log_topic("SessionCreated(bytes32,address)").hex()
SESSION_REMOVED = "0x" + event_signature_to_log_topic("SessionRemoved(bytes32,address)").hex()
HANDLE_OPS_SELECTOR = function_signature_to_4byte_selector(
    "handleOps((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)[],address)"
)
PACKED_OPS_ABI = "(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)[]"


def session_expiry(session: Session, time_frame_policy: str) -> int | None:
    """When the session ends: the earliest non-zero validUntil of its session-level TimeFrame policies (None: never)."""
    ends = [
        TIME_FRAME.frame(p.init_data)[0]
        for p in session.user_op_policies
        if p.policy == time_frame_policy and len(p.init_data) >= 12
    ]
    ends = [end for end in ends if end]
    return min(ends) if ends else None


def renewed_session(session: Session, session_key: str, valid_until: int, time_frame_policy: str) -> Session:
    """The same scope for another key, until ``valid_until``: the session-level TimeFrames end then, and action
    TimeFrames that would end sooner are moved to it too (later ones stay: the session's bounds them); a fresh salt
    makes a new permission id. The limit policies start again from zero on chain (a new permission is a new config)."""

    def moved(policies: Sequence[PolicyData], session_level: bool) -> tuple[PolicyData, ...]:
        out = []
        for p in policies:
            if p.policy == time_frame_policy and len(p.init_data) >= 12:
                ends, after = TIME_FRAME.frame(p.init_data)
                if session_level or (ends and ends < valid_until):
                    p = PolicyData(p.policy, time_frame_init_data(valid_until, after))
            out.append(p)
        return tuple(out)

    return replace(
        session,
        session_validator_init_data=encode_validation_data(1, [session_key]),
        salt=os.urandom(32),
        user_op_policies=moved(session.user_op_policies, True),
        actions=tuple(replace(a, action_policies=moved(a.action_policies, False)) for a in session.actions),
    )


@dataclass(frozen=True)
class PermissionRecord:
    """One permission of the account: on chain (enabled or not), its Session if known, its use (audit trail)."""

    permission_id: bytes
    enabled: bool
    session: Session | None
    expires_at: int | None  # unix time; None: never, or the Session is unknown
    enabled_in: str | None  # the transaction that enabled it
    ops_signed: int = 0
    ops_refused: int = 0
    last_use: float | None = None

    @property
    def session_key(self) -> str | None:
        return self.session.session_key if self.session is not None else None

    def to_dict(self) -> dict[str, Any]:
        session = self.session
        return {
            "permission_id": "0x" + self.permission_id.hex(),
            "enabled": self.enabled,
            "session_key": self.session_key,
            "expires_at": self.expires_at,
            "scope": [
                {"target": a.action_target, "selector": "0x" + a.action_target_selector.hex(),
                 "policies": [p.policy for p in a.action_policies]}
                for a in session.actions
            ] if session is not None else None,
            "user_op_policies": [p.policy for p in session.user_op_policies] if session is not None else None,
            "enabled_in": self.enabled_in,
            "ops_signed": self.ops_signed,
            "ops_refused": self.ops_refused,
            "last_use": self.last_use,
        }  # fmt: skip


@dataclass(frozen=True)
class RevokeResult:
    """The removal op (unsigned in a dry run) and the permissions it removes."""

    permission_ids: tuple[bytes, ...]
    user_operation: UserOperation
    dry_run: bool
    user_op_hash: bytes | None = None
    receipt: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "permission_ids": ["0x" + p.hex() for p in self.permission_ids],
            "dry_run": self.dry_run,
            "user_op_hash": "0x" + self.user_op_hash.hex() if self.user_op_hash else None,
            "success": self.receipt.get("success") if self.receipt else None,
            "user_operation": self.user_operation.to_rpc(),
        }


@dataclass(frozen=True)
class RotateResult:
    old_permission_id: bytes
    new_permission_id: bytes
    new_session: Session
    new_key: str  # the new key's URI (or its address, for a signer given by the caller)
    grant_user_operation: UserOperation
    dry_run: bool
    grant: UserOperationResult | None = None
    test: UserOperationResult | None = None
    revoke: RevokeResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_permission_id": "0x" + self.old_permission_id.hex(),
            "new_permission_id": "0x" + self.new_permission_id.hex(),
            "new_session_key": self.new_session.session_key,
            "new_key": self.new_key,
            "dry_run": self.dry_run,
            "grant_user_op_hash": "0x" + self.grant.user_op_hash.hex() if self.grant else None,
            "test_user_op_hash": "0x" + self.test.user_op_hash.hex() if self.test else None,
            "revoke": self.revoke.to_dict() if self.revoke else None,
            "new_session": self.new_session.to_dict(),
            "grant_user_operation": self.grant_user_operation.to_rpc(),
        }


@dataclass
class SessionManager:
    """The lifecycle of ``account``'s permissions. ``owner`` and ``bundler`` are needed to change anything
    (revoke, rotate), ``audit`` to join use figures and to wait for a rotated key's last ops."""

    account: SmartAccount
    owner: Signer | None = None
    bundler: BundlerClient | None = None
    registry: ScopeRegistry = SCOPES
    audit: AuditTrail | None = None
    from_block: int = 0  # where to start reading SmartSession's events
    timeout: float = 60.0  # per op receipt
    _successors: dict[bytes, tuple[bytes, Signer]] = field(default_factory=dict, repr=False)

    # -- reading ---------------------------------------------------------------------------------------------
    def _require_account(self) -> None:
        if not self.account.is_deployed():
            raise SessionManagerError(
                f"no account at {self.account.address} on chain {self.account.chain_id}: the address has no code",
                hint="check the account address and the node URL (an account is deployed by its first owner op)",
            )

    def _logs(self, topic: str) -> list[tuple[bytes, str]]:
        """(permission id, transaction hash) of SmartSession's ``topic`` events for this account, oldest first."""
        logs = self.account.node.request(
            "eth_getLogs",
            [{"fromBlock": hex(self.from_block), "toBlock": "latest", "address": self.account.addresses.smart_sessions,
              "topics": [topic]}],
        )  # fmt: skip
        out = []
        for log in logs:
            pid, account = decode(["bytes32", "address"], to_bytes(log["data"], "log data"))
            if to_address(account) == self.account.address:
                out.append((bytes(pid), str(log["transactionHash"])))
        return out

    def _sessions_enabled_in(self, tx_hash: str) -> dict[bytes, Session]:
        """The Sessions the ops of this account in a bundle transaction enabled (enableSessions calls, ENABLE mode)."""
        tx = self.account.node.request("eth_getTransactionByHash", [tx_hash])
        data = to_bytes(tx["input"], "transaction input") if tx else b""
        if data[:4] != HANDLE_OPS_SELECTOR:
            return {}
        try:
            ops, _ = decode([PACKED_OPS_ABI, "address"], data[4:])
        except Exception:  # not a well-formed handleOps: nothing to learn from it
            return {}
        found: dict[bytes, Session] = {}
        for sender, _nonce, _init, call_data, _gas, _pvg, _fees, _pm, signature in ops:
            if to_address(sender) == self.account.address:
                found.update({s.permission_id: s for s in self._sessions_of_op(bytes(call_data), bytes(signature))})
        return found

    def _sessions_of_op(self, call_data: bytes, signature: bytes) -> list[Session]:
        """The Sessions one op enables: in its ENABLE-mode signature, or in its enableSessions calls."""
        sessions: list[Session] = []
        try:
            if signature[:1] in (b"\x01", b"\x02"):
                sessions.append(decode_enable_signature(signature).session)
            if call_data[:4] == EXECUTE_SELECTOR:
                calls = decode_execute(call_data)
                if calls.call_type in (CALLTYPE_SINGLE, CALLTYPE_BATCH):
                    module = self.account.addresses.smart_sessions
                    for call in calls.calls:
                        if call.to == module and call.selector == ENABLE_SESSIONS_SELECTOR:
                            sessions.extend(decode_enable_sessions(call.data))
        except AAConfigurationError:  # malformed: this op tells nothing (the scope check stays the judge)
            pass
        return sessions

    def permissions(self, *, include_disabled: bool = False) -> list[PermissionRecord]:
        """The account's permissions, oldest first: enabled ones (and removed ones with ``include_disabled``)."""
        self._require_account()
        created = self._logs(SESSION_CREATED)
        usage = {}
        if self.audit is not None:
            usage = {s.permission_id: s for s in self.audit.summary(account=self.account.address)}
        book = self.account.addresses
        records, seen = [], set()
        sessions_of: dict[str, dict[bytes, Session]] = {}
        for pid, tx_hash in created:
            if pid in seen:
                continue
            seen.add(pid)
            enabled = self.account.is_permission_enabled(pid)
            if not enabled and not include_disabled:
                continue
            scope = self.registry.get(pid)
            session = scope.session if scope is not None else None
            if session is None:
                if tx_hash not in sessions_of:
                    sessions_of[tx_hash] = self._sessions_enabled_in(tx_hash)
                session = sessions_of[tx_hash].get(pid)
            used = usage.get("0x" + pid.hex())
            records.append(
                PermissionRecord(
                    pid, enabled, session, session_expiry(session, book.time_frame_policy) if session else None,
                    tx_hash, used.signed if used else 0, used.refused if used else 0, used.last_use if used else None,
                )
            )  # fmt: skip
        return records

    def current(self, permission_id: BytesLike) -> tuple[bytes, Signer | None]:
        """The permission (and key) that replaced ``permission_id`` by rotation here, following every rotation;
        (``permission_id``, None) when it was not rotated."""
        pid, key = to_bytes(permission_id, "permission_id", 32), None
        while pid in self._successors:
            pid, key = self._successors[pid]
        return pid, key

    # -- changing ----------------------------------------------------------------------------------------------
    def _need_owner(self) -> tuple[Signer, BundlerClient]:
        if self.owner is None or self.bundler is None:
            raise SessionManagerError(
                "changing permissions needs the account's owner key and a bundler",
                hint="create the SessionManager with owner= and bundler=",
            )
        return self.owner, self.bundler

    def _owner_op(self, calls: Sequence[Call]) -> UserOperation:
        _, bundler = self._need_owner()
        return build_user_operation(self.account, calls, self.account.owner_validation(), bundler, deploy=False)

    def _send_owner_op(self, op: UserOperation) -> UserOperationResult:
        owner, bundler = self._need_owner()
        signed = self.account.sign_user_operation(op, owner, self.account.owner_validation())
        return _submit(self.account, bundler, signed, True, self.timeout)

    def select(
        self,
        *,
        session_key: str | None = None,
        permission_ids: Sequence[BytesLike] = (),
        all: bool = False,  # noqa: A002 (the CLI's --all)
    ) -> list[bytes]:
        """The enabled permissions of the account that match exactly one selector; refuses what does not exist."""
        if sum(bool(x) for x in (session_key, permission_ids, all)) != 1:
            raise SessionManagerError(
                "give exactly one of a session key, permission ids or all",
                hint="--session-key K, --permission-id P (repeatable) or --all",
            )
        records = self.permissions(include_disabled=True)
        enabled = [r for r in records if r.enabled]
        if all:
            chosen = [r.permission_id for r in enabled]
            if not chosen:
                raise SessionManagerError(f"{self.account.address} has no enabled permission: nothing to revoke")
            return chosen
        if session_key:
            key = to_address(session_key, "session key")
            chosen = [r.permission_id for r in enabled if (r.session_key or "").lower() == key.lower()]
            if not chosen:
                raise SessionManagerError(
                    f"session key {key} has no enabled permission on {self.account.address}",
                    hint="list the account's permissions (`signers sessions list`) to see which keys hold one",
                )
            return chosen
        known = {r.permission_id: r for r in records}
        chosen = []
        for index, given in enumerate(permission_ids, 1):
            try:
                pid = to_bytes(given, "permission id", 32)
            except AAConfigurationError:
                raise SessionManagerError(f"permission id #{index} is not 32 bytes of hex") from None
            record = known.get(pid)
            if record is None:
                raise SessionManagerError(
                    f"permission 0x{pid.hex()} was never enabled on {self.account.address} (it belongs to another "
                    "account, or to none)",
                    hint="check the account and the permission id against `signers sessions list`",
                )
            if not record.enabled:
                raise SessionManagerError(f"permission 0x{pid.hex()} is already removed from {self.account.address}")
            chosen.append(pid)
        return list(dict.fromkeys(chosen))

    def revoke(
        self,
        *,
        session_key: str | None = None,
        permission_ids: Sequence[BytesLike] = (),
        all: bool = False,  # noqa: A002 (the CLI's --all)
        dry_run: bool = False,
    ) -> RevokeResult:
        """Remove every matching permission in one owner op. The permissions (and the key, by key) are refused
        locally before anything is signed; ``dry_run`` builds the op (priced by the bundler) and stops there."""
        self._need_owner()
        chosen = self.select(session_key=session_key, permission_ids=permission_ids, all=all)
        if not dry_run:
            for pid in chosen:  # from now on, no signature for them leaves this process
                self.registry.revoke(pid)
            if session_key:
                self.registry.revoke_key(session_key)
        calls = [Call(self.account.addresses.smart_sessions, 0, encode_remove_session(pid)) for pid in chosen]
        op = self._owner_op(calls)
        if dry_run:
            return RevokeResult(tuple(chosen), op, True)
        result = self._send_owner_op(op)
        return RevokeResult(tuple(chosen), result.user_operation, False, result.user_op_hash, result.receipt)

    def _drain(self, permission_id: bytes, since: float) -> None:
        """Wait for the ops signed for ``permission_id`` since ``since`` to be included (the audit trail has them):
        a removal landing first would have the bundler drop them."""
        if self.audit is None or self.bundler is None:
            return
        for entry in self.audit.entries(permission_id="0x" + permission_id.hex(), outcome="signed", since=since):
            if entry.user_op_hash:
                with contextlib.suppress(AAError):  # never sent, or dropped: it cannot land after the removal either
                    self.bundler.wait_for_receipt(entry.user_op_hash, timeout=self.timeout, check=False)

    def rotate(
        self,
        permission_id: BytesLike,
        *,
        test_calls: Sequence[Call | dict[str, Any]],
        valid_until: int | None = None,
        valid_for: int | None = None,
        current_key: Signer | None = None,
        new_key: Signer | None = None,
        new_key_label: str | None = None,
        drain_window: float = 300.0,
        dry_run: bool = False,
    ) -> RotateResult:
        """Replace ``permission_id`` with the same scope for a new key, valid until ``valid_until`` (or ``valid_for``
        seconds from now). The new key is ``new_key``, or one created in ``current_key``'s custody
        (``Backend.create_like``). Order: grant the new permission, land ``test_calls`` under it, refuse the old one
        locally, wait for its last ops (``drain_window`` seconds back in the audit trail), remove it on chain."""
        self._need_owner()
        if not test_calls:
            raise SessionManagerError("a rotation needs a test op for the new key", hint="pass test_calls (in scope)")
        pid = to_bytes(permission_id, "permission_id", 32)
        record = next((r for r in self.permissions() if r.permission_id == pid), None)
        if record is None:
            raise SessionManagerError(f"permission 0x{pid.hex()} is not enabled on {self.account.address}")
        if record.session is None:
            raise SessionManagerError(
                f"the Session of permission 0x{pid.hex()} is not known (not in the enabling op, not registered)",
                hint="register the Session (register_session) before rotating it",
            )
        now = int(time.time())
        until = valid_until if valid_until is not None else now + valid_for if valid_for is not None else None
        if until is None or until <= now:
            raise SessionManagerError("the new expiry must be in the future", hint="valid_until= or valid_for=")
        old_scope = self.registry.get(pid)
        created_uri: str | None = None
        if new_key is None:
            if current_key is None:
                raise SessionManagerError("give the new key, or the current key to create one like it")
            if dry_run:  # no key is created in a dry run: the op shows the current key's address in its place
                session, grant_op = self._renewal(record.session, current_key.address, until)
                return RotateResult(pid, session.permission_id, session, "not created (dry run)", grant_op, True)
            created_uri = current_key.backend.create_like(new_key_label)
            from ..plugins import load_signer

            new_key = load_signer(created_uri)
        session, grant_op = self._renewal(record.session, new_key.address, until)
        if dry_run:
            return RotateResult(pid, session.permission_id, session, new_key.address, grant_op, True)
        grant = self._send_owner_op(grant_op)
        self.registry.register(
            session, account=self.account.address, addresses=self.account.addresses, node=self.account.node,
            max_cost_wei=old_scope.max_cost_wei if old_scope is not None else None,
        )  # fmt: skip
        test = send_session_user_operation(
            self.account, new_key, self._need_owner()[1], session.permission_id, [as_call(c) for c in test_calls],
            timeout=self.timeout, registry=self.registry,
        )  # fmt: skip
        if not (test.receipt and test.receipt.get("success")):
            raise UserOperationFailedError(
                f"the test op of the new permission 0x{session.permission_id.hex()} failed; the old one stays",
                user_op_hash="0x" + test.user_op_hash.hex(),
                receipt=test.receipt or {},
            )
        self._successors[pid] = (session.permission_id, new_key)  # followers switch before the old one is refused
        started = time.time()
        self.registry.revoke(pid)
        self._drain(pid, started - drain_window)
        revoked = self.revoke(permission_ids=[pid]) if self.account.is_permission_enabled(pid) else None
        return RotateResult(
            pid, session.permission_id, session, created_uri or new_key.address, grant_op, False, grant, test, revoked
        )

    def _renewal(self, session: Session, key_address: str, until: int) -> tuple[Session, UserOperation]:
        """``session`` renewed for the key at ``key_address`` until ``until`` on this chain, and the owner op that
        grants it."""
        session = renewed_session(session, key_address, until, self.account.addresses.time_frame_policy)
        session = replace(session, chain_id=self.account.chain_id)
        grant = Call(self.account.addresses.smart_sessions, 0, encode_enable_sessions([session]))
        return session, self._owner_op([grant])

    def rotate_before(
        self,
        expiry_margin: float,
        *,
        valid_for: int,
        test_calls: Callable[[PermissionRecord], Sequence[Call | dict[str, Any]]],
        current_keys: Mapping[str, Signer],
        now: float | None = None,
    ) -> list[RotateResult]:
        """Rotate every enabled permission that ends within ``expiry_margin`` seconds (run it on a schedule more
        often than the margin): its new permission lasts ``valid_for`` seconds. ``current_keys`` maps session key
        addresses to their signers (the custody the new key is created in); ``test_calls`` gives each one's test op."""
        moment = time.time() if now is None else now
        keys = {k.lower(): v for k, v in current_keys.items()}
        results = []
        for record in self.permissions():
            if record.expires_at is None or record.expires_at - moment > expiry_margin:
                continue
            key = keys.get((record.session_key or "").lower())
            if key is None:
                raise SessionManagerError(
                    f"permission 0x{record.permission_id.hex()} ends at {record.expires_at} but its key "
                    f"{record.session_key} is not among current_keys",
                    hint="pass the signer of every session key that may need rotating",
                )
            results.append(
                self.rotate(record.permission_id, test_calls=test_calls(record), valid_for=valid_for, current_key=key)
            )
        return results


__all__ = ["PermissionRecord", "RevokeResult", "RotateResult", "SessionManager", "renewed_session", "session_expiry"]
