"""The demo's flow: every step does the real thing, prints what happened, and checks it on chain.

Nothing here is simulated: each userOpHash and transaction hash printed came back from the Alto bundler and
anvil, each refusal text is the exception the library raised, and each "[ok]" is a check that stops the demo
(non-zero exit) when it does not hold.
"""

from __future__ import annotations

import contextlib
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import signers
from demo.onchain import INCREMENT, SET_NUMBER, Chain, audit_mismatches
from demo.report import DemoFailure, Report
from demo.service_step import viem_through_service
from demo.services import HsmToken, LocalStack
from signers.aa import (
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    NexusAccount,
    ScopeViolationError,
    Session,
    UserOperationRejectedError,
    UserOperationResult,
    VerifyingPaymaster,
    decode_validity,
    grant_permission,
    install_smart_sessions,
    is_smart_sessions_installed,
    revoke_permission,
    send_session_user_operation,
    split_nonce,
)
from signers.audit import AuditEntry, AuditTrail
from signers.errors import SignerError
from signers.signer import Signer

PARALLEL_OPS = 4
SEQUENTIAL_OPS = 3
SESSION_HOURS = 1


def _wei_to_eth(wei: int) -> str:
    return f"{wei / 10**18:.6f} ETH"


class Demo:
    def __init__(self, report: Report, chain: Chain, trail: AuditTrail, progress: Callable[[str], None]) -> None:
        self.report = report
        self.chain = chain
        self.trail = trail
        self.progress = progress
        self.refused_after_signing: list[AuditEntry] = []  # signed, then refused by the bundler
        self.names: dict[str, str] = {}  # address -> what it is, for the report

    # -- reporting helpers ----------------------------------------------------------------------------------
    def name(self, address: str) -> str:
        return self.names.get(address, address)

    def show_op(self, result: UserOperationResult, prefix: str = "") -> dict[str, Any]:
        receipt = result.receipt
        if receipt is None:
            raise DemoFailure(f"no receipt for {result.user_op_hash.hex()}")
        key, _, validator, sequence = split_nonce(result.user_operation.nonce)
        tx = receipt["receipt"]["transactionHash"]
        block = int(receipt["receipt"]["blockNumber"], 16)
        status = self.chain.transaction_status(tx)
        r = self.report
        r.fact(f"{prefix}userOpHash", "0x" + result.user_op_hash.hex())
        r.fact(f"{prefix}nonce", f"key {key:#x}, validator {self.name(validator)}, sequence {sequence}")
        r.fact(f"{prefix}transaction", f"{tx} (block {block}, status {status})")
        r.fact(
            f"{prefix}receipt",
            f"success={receipt['success']}, gas paid {_wei_to_eth(int(receipt['actualGasCost'], 16))}",
        )
        r.check(receipt["success"] is True and status == 1, "included, and the bundler's receipt says success")
        return receipt

    def signed_by(self, signer: Signer) -> list[AuditEntry]:
        return self.trail.entries(address=signer.address, outcome="signed")

    def expect_refusal(
        self, label: str, attempt: Callable[[], object], error: type[SignerError], aa_code: str | None = None
    ) -> SignerError:
        """Run ``attempt``, which must be refused with ``error``; report the refusal as raised. Signatures
        made during the attempt (the bundler refused after signing) are remembered for the audit check."""
        before = {e.id for e in self.trail.entries(outcome="signed")}
        try:
            attempt()
        except error as exc:
            refused = exc
        else:
            raise DemoFailure(f"{label}: expected a refusal ({error.__name__}), but the operation went through")
        self.report.refusal(label, refused)
        self.refused_after_signing.extend(e for e in self.trail.entries(outcome="signed") if e.id not in before)
        if aa_code is not None:
            self.report.check(getattr(refused, "aa_code", None) == aa_code, f"the EntryPoint's reason is {aa_code}")
        return refused

    # -- steps ----------------------------------------------------------------------------------------------
    def grant(
        self,
        account: NexusAccount,
        owner: Signer,
        session_key: Signer,
        counter: str,
        valid_until: int,
        paymaster: VerifyingPaymaster | None = None,
    ) -> tuple[bytes, Session]:
        params = CreateSessionDataParams(
            session_public_key=session_key.address,
            action_policies_info=[ActionPolicyInfo(counter, INCREMENT)],
            session_valid_until=valid_until,
        )
        granted = grant_permission(account, owner, self.chain.bundler, params, paymaster=paymaster)
        (pid,), (session,) = granted.permission_ids, granted.sessions
        r = self.report
        r.fact("permission id", "0x" + pid.hex())
        r.fact("session key", f"{session_key.address} ({self.name(session_key.address)})")
        r.fact("may call", f"Counter {counter} . increment() (selector 0x{INCREMENT.hex()}), nothing else")
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(valid_until))
        r.fact("valid until", f"{valid_until} ({when})")
        policies = ", ".join(self.name(p.policy) for a in session.actions for p in a.action_policies)
        r.fact("policies", f"session: {self.name(session.user_op_policies[0].policy)}; action: {policies}")
        r.fact("may use a paymaster", session.permit_erc4337_paymaster)
        self.show_op(granted, "grant ")
        r.check(account.is_permission_enabled(pid), "SmartSession.isPermissionEnabled(permission, account) is true")
        return pid, session

    def increment(self, account: NexusAccount, key: Signer, pid: bytes, counter: str, **options: Any) -> Any:
        return send_session_user_operation(
            account, key, self.chain.bundler, pid, [Call(counter, 0, INCREMENT)], **options
        )


def run_flow(
    report: Report,
    token: HsmToken,
    kms: LocalStack,
    deployment: dict[str, Any],
    chain_started: bool,
    state: Path,
    progress: Callable[[str], None],
) -> None:
    audit_path = state / "audit.sqlite"
    for stale in state.glob("audit.sqlite*"):  # a fresh trail per run
        stale.unlink()
    with contextlib.ExitStack() as cleanup:
        chain = Chain.from_deployment(deployment)
        cleanup.callback(chain.close)
        trail = AuditTrail(audit_path).enable()
        cleanup.callback(trail.close)
        cleanup.callback(trail.disable)
        demo = Demo(report, chain, trail, progress)
        _flow(demo, token, kms, deployment, chain_started, cleanup, audit_path)


def _flow(
    demo: Demo,
    token: HsmToken,
    kms: LocalStack,
    deployment: dict[str, Any],
    chain_started: bool,
    cleanup: contextlib.ExitStack,
    audit_path: Path,
) -> None:
    r, chain = demo.report, demo.chain
    book = chain.book
    demo.names.update(
        {
            chain.k1_validator: "K1Validator (owner)",
            book.smart_sessions: "SmartSession",
            book.time_frame_policy: "TimeFramePolicy",
            book.sudo_policy: "SudoPolicy",
            book.uni_action_policy: "UniActionPolicy",
        }
    )

    # 1 ---------------------------------------------------------------------------------------------------
    r.step("Services")
    r.fact("HSM", f"SoftHSM2 token {token.label!r}, private config .state/demo/softhsm/ (module {token.module})")
    r.fact("AWS KMS", f"LocalStack at {kms.endpoint} ({'started by the demo' if kms.started_here else 'reused'})")
    r.fact("chain", f"anvil at {deployment['rpc_url']}, chain id {chain.chain_id} "
           f"({'started by the demo' if chain_started else 'reused'})")  # fmt: skip
    entry_points = chain.bundler.supported_entry_points()
    r.fact("bundler", f"Alto at {deployment['bundler_url']}, entry points {', '.join(entry_points)}")
    r.fact("EntryPoint v0.7", book.entry_point)
    r.fact("SmartSession module", book.smart_sessions)
    r.fact("Nexus factory", chain.nexus_factory)
    r.fact("owner validator", f"{chain.k1_validator} (K1Validator)")
    r.fact("session validator", f"{book.ownable_validator} (OwnableValidator)")
    r.check(entry_points == [book.entry_point], "the bundler serves the canonical EntryPoint v0.7")

    # 2 ---------------------------------------------------------------------------------------------------
    r.step("Keys in custody")
    kms_key = kms.create_key(description="signers demo: account owner")
    key_id, owner_uri = kms_key.key_id, kms_key.uri
    cleanup.callback(_schedule_deletion, kms, key_id)
    owner = signers.load_signer(owner_uri)
    cleanup.callback(owner.close)
    demo.names[owner.address] = "owner, AWS KMS"
    c = owner.backend.custody()
    r.fact("owner key", owner_uri)
    r.fact("owner address", owner.address)
    r.fact("custody", f"{c['custody']}, key {c['key_id']}, {c['key_spec']} / {c['key_usage']}, state {c['state']}")
    r.fact("origin", f"{c['origin']}: {c['origin_meaning']}; extractable: {c['extractable']}")
    r.check(c["address"] == owner.address, "KMS's public key gives the owner address")

    session_uri = token.generate_key(prefix="session-key")
    session1 = signers.load_signer(session_uri)
    cleanup.callback(session1.close)
    demo.names[session1.address] = "session key 1, HSM"
    _show_hsm_custody(r, session_uri, session1)

    # 3 ---------------------------------------------------------------------------------------------------
    r.step("The owner's smart account, counterfactual")
    account = chain.new_account(owner.address)
    demo.names[account.address] = "the account"
    if chain_started:
        counter = deployment["counter"]
        r.fact("Counter", f"{counter} (the stack's session target)")
    else:
        counter = chain.deploy_counter()  # a shared stack: a Counter of our own, so no one else moves it
        r.fact("Counter", f"{counter} (deployed for this run: the stack is shared)")
    r.fact("account address", f"{account.address} (NexusAccountFactory.computeAccountAddress)")
    code_before = len(chain.node.get_code(account.address))
    r.fact("code at the address", f"{code_before} bytes")
    r.check(code_before == 0, "the account is not deployed yet")
    funded = chain.fund(account.address)
    r.fact("prefund", f"1 ETH from dev account {chain.funder}: tx {funded['transactionHash']}")
    counter_start = chain.counter_value(counter)
    r.fact("Counter.number()", counter_start)

    # 4 ---------------------------------------------------------------------------------------------------
    r.step("Owner op 1: deploy the account and install Smart Sessions (signed in AWS KMS)")
    demo.progress("owner UserOperation: installModule(validator, SmartSession), deploying the account ...")
    installed = install_smart_sessions(account, owner, chain.bundler)
    r.fact("factory in the op", installed.user_operation.factory)
    demo.show_op(installed)
    code_after = len(chain.node.get_code(account.address))
    r.fact("code at the address", f"{code_after} bytes")
    r.check(installed.user_operation.factory == chain.nexus_factory and code_after > 0, "deployed by this first op")
    r.check(is_smart_sessions_installed(account), "isModuleInstalled(1, SmartSession) is true")

    # 5 ---------------------------------------------------------------------------------------------------
    r.step("Owner op 2: grant session key 1 Counter.increment() (signed in AWS KMS)")
    valid_until = int(time.time()) + SESSION_HOURS * 3600
    pid1, _ = demo.grant(account, owner, session1, counter, valid_until)

    # 6 ---------------------------------------------------------------------------------------------------
    r.step(f"{SEQUENTIAL_OPS} session ops, signed in the HSM only, with the owner key disabled in KMS")
    owner_signed = demo.signed_by(owner)
    kms_client = kms.client()
    kms_client.disable_key(KeyId=key_id)
    try:
        r.fact("owner key state", kms_client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])
        demo.expect_refusal("owner signing now", lambda: owner.sign_message("are you there?"), SignerError)
        before = chain.counter_value(counter)
        r.fact("Counter before", before)
        for n in range(1, SEQUENTIAL_OPS + 1):
            demo.progress(f"session UserOperation {n}/{SEQUENTIAL_OPS} ...")
            demo.show_op(demo.increment(account, session1, pid1, counter), f"op {n} ")
        after = chain.counter_value(counter)
        r.fact("Counter after", after)
        r.check(after == before + SEQUENTIAL_OPS, f"Counter.number() went {before} -> {after} on chain")
        r.check(chain.counter_last_caller(counter) == account.address, "Counter.lastCaller() is the account")
        r.check(demo.signed_by(owner) == owner_signed, "the owner key signed nothing (audit trail)")
    finally:
        kms_client.enable_key(KeyId=key_id)
    r.fact("owner key state", kms_client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])

    # 7 ---------------------------------------------------------------------------------------------------
    r.step(f"{PARALLEL_OPS} session ops in flight at once, on distinct nonce keys")
    before = chain.counter_value(counter)
    demo.progress(f"sending {PARALLEL_OPS} session UserOperations from {PARALLEL_OPS} threads ...")
    with ThreadPoolExecutor(PARALLEL_OPS) as pool:
        pending = list(
            pool.map(lambda _: demo.increment(account, session1, pid1, counter, parallel=True, wait=False),
                     range(PARALLEL_OPS))
        )  # fmt: skip
    for n, p in enumerate(pending, 1):
        key, _, _, sequence = split_nonce(p.user_operation.nonce)
        r.fact(f"sent {n}", f"nonce key {key:#08x} seq {sequence}: userOpHash 0x{p.user_op_hash.hex()}")
    r.check(len({split_nonce(p.user_operation.nonce)[0] for p in pending}) == PARALLEL_OPS, "all nonce keys distinct")
    demo.progress("waiting for the receipts ...")
    receipts = [chain.bundler.wait_for_receipt(p.user_op_hash, timeout=60) for p in pending]
    txs = [x["receipt"]["transactionHash"] for x in receipts]
    for n, (x, tx) in enumerate(zip(receipts, txs, strict=True), 1):
        r.fact(f"receipt {n}", f"success={x['success']} in tx {tx}")
    r.fact("bundle transactions", len(set(txs)))
    r.check(all(x["success"] is True for x in receipts), "every op included with success")
    after = chain.counter_value(counter)
    r.check(after == before + PARALLEL_OPS, f"Counter.number() went {before} -> {after} on chain")

    # 8 ---------------------------------------------------------------------------------------------------
    r.step("Out of scope: setNumber(42) is not in the grant")
    out_of_scope = [Call(counter, 0, SET_NUMBER + (42).to_bytes(32, "big"))]
    before = chain.counter_value(counter)
    entries_before = len(demo.trail.entries())
    demo.expect_refusal(
        "local scope check",
        lambda: send_session_user_operation(account, session1, chain.bundler, pid1, out_of_scope),
        ScopeViolationError,
    )
    new_entries = demo.trail.entries()[entries_before:]
    r.check(
        len(new_entries) == 1 and new_entries[0].outcome == "refused" and new_entries[0].signature is None,
        "refused before gas estimation, before the HSM was asked; the audit trail records the refusal",
    )
    r.fact("audit reason", new_entries[0].reason if new_entries else "(none)")
    demo.expect_refusal(
        "local check off: bundler",
        lambda: send_session_user_operation(account, session1, chain.bundler, pid1, out_of_scope, scope_check=False),
        UserOperationRejectedError,
        "AA23",
    )
    r.check(chain.counter_value(counter) == before, f"Counter.number() still {before}")

    # 9 ---------------------------------------------------------------------------------------------------
    r.step("An expired session")
    chain_now = int(chain.node.request("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    expired_at = min(chain_now, int(time.time())) - 3600
    demo.progress("owner UserOperation: granting a session that expired an hour ago ...")
    pid_expired, _ = demo.grant(account, owner, session1, counter, expired_at)
    demo.expect_refusal(
        "local scope check",
        lambda: demo.increment(account, session1, pid_expired, counter),
        ScopeViolationError,
    )
    demo.expect_refusal(
        "local check off: bundler",
        lambda: demo.increment(account, session1, pid_expired, counter, scope_check=False),
        UserOperationRejectedError,
        "AA22",
    )
    r.check(chain.counter_value(counter) == before, f"Counter.number() still {before}")

    # 10 --------------------------------------------------------------------------------------------------
    r.step("Rotate: a new session key in the HSM, a new grant (paid by a sponsor), the old permission revoked")
    session2_uri = token.generate_key(prefix="session-key")
    session2 = signers.load_signer(session2_uri)
    cleanup.callback(session2.close)
    demo.names[session2.address] = "session key 2, HSM"
    _show_hsm_custody(r, session2_uri, session2)
    sponsor = _deploy_sponsor(demo, kms, cleanup)
    demo.progress("owner UserOperation: granting session key 2, sponsored ...")
    pid2, grant2 = demo.grant(account, owner, session2, counter, valid_until, paymaster=sponsor)
    demo.progress("owner UserOperation: removeSession(old permission) ...")
    revoked = revoke_permission(account, owner, chain.bundler, pid1)
    demo.show_op(revoked, "revoke ")
    r.check(not account.is_permission_enabled(pid1), "the old permission is disabled on chain")
    demo.expect_refusal(
        "old key, local check", lambda: demo.increment(account, session1, pid1, counter), ScopeViolationError
    )
    demo.expect_refusal(
        "old key, check off",
        lambda: demo.increment(account, session1, pid1, counter, scope_check=False),
        UserOperationRejectedError,
        "AA23",
    )
    before = chain.counter_value(counter)
    demo.show_op(demo.increment(account, session2, pid2, counter), "new key ")
    r.check(chain.counter_value(counter) == before + 1, f"Counter.number() went {before} -> {before + 1}")

    # 11 --------------------------------------------------------------------------------------------------
    r.step("A sponsor pays: a session op approved by the paymaster's key in AWS KMS")
    balance, deposit = chain.node.get_balance(account.address), chain.deposit_of(sponsor.address)
    demo.progress("session UserOperation with paymaster approval ...")
    sponsored = demo.increment(account, session2, pid2, counter, paymaster=sponsor)
    receipt = demo.show_op(sponsored, "sponsored ")
    valid_until_pm, _, _ = decode_validity(sponsored.user_operation.paymaster_data)
    r.fact("approval valid until", f"{valid_until_pm} (validUntil in paymasterData)")
    cost = int(receipt["actualGasCost"], 16)
    r.check(receipt["paymaster"].lower() == sponsor.address.lower(), "the receipt names the VerifyingPaymaster")
    r.check(chain.node.get_balance(account.address) == balance, "the account's balance did not move")
    r.check(chain.deposit_of(sponsor.address) == deposit - cost, f"the paymaster's deposit paid {_wei_to_eth(cost)}")
    r.check(chain.counter_value(counter) == before + 2, f"Counter.number() went {before + 1} -> {before + 2}")

    # 12 --------------------------------------------------------------------------------------------------
    r.step("A TypeScript app (viem) uses session key 2 through signers serve: the app holds a token, not a key")
    viem_through_service(
        demo, account, session2_uri, session2.address, grant2, pid2, counter, deployment, audit_path, cleanup
    )

    # 13 --------------------------------------------------------------------------------------------------
    r.step("Revoke the remaining session")
    revoked = revoke_permission(account, owner, chain.bundler, pid2)
    demo.show_op(revoked, "revoke ")
    r.check(not account.is_permission_enabled(pid2), "the permission is disabled on chain")
    demo.expect_refusal(
        "key 2, check off",
        lambda: demo.increment(account, session2, pid2, counter, scope_check=False),
        UserOperationRejectedError,
        "AA23",
    )
    counter_end = chain.counter_value(counter)

    # 14 --------------------------------------------------------------------------------------------------
    r.step("The audit trail against the chain")
    entries = demo.trail.entries()
    r.fact("trail", f"{audit_path.relative_to(audit_path.parents[2])} ({len(entries)} entries)")
    refused_ids = {e.id for e in demo.refused_after_signing}
    for e in entries:
        op_hash = str(e.context.get("user_op_hash", ""))
        reason = None
        if e.outcome == "refused":
            fate, reason = "refused by the before_sign hook, never signed", str(e.reason)
        elif e.outcome == "failed":  # the owner key asked while disabled in KMS (step 6)
            fate, reason = "the backend refused: no signature", str(e.reason)
        elif "sponsored" in e.context:  # a paymaster approval (a message), not an op
            fate = f"approved paying for {demo.name(str(e.context['sponsored']))}, nonce {int(e.context['nonce']):#x}"
        elif e.id in refused_ids:
            fate = "signed, refused by the bundler"
        else:
            receipt = chain.bundler.get_user_operation_receipt(op_hash)
            fate = f"on chain, tx {receipt['receipt']['transactionHash'][:18]}..." if receipt else "NO RECEIPT"
        what = f"{op_hash[:18]}..." if op_hash else e.digest[:18] + "..."
        via = f" via signers serve (client {e.client})" if e.client else ""
        r.fact(f"#{e.id} {e.kind}", f"{demo.name(e.address)}{via}: {what} {fate}")
        if reason is not None:
            r.fact("  reason recorded", "\n".join(textwrap.wrap(reason, 90)))
    mismatches = audit_mismatches(entries, chain.bundler, refused=demo.refused_after_signing)
    for problem in mismatches:
        r.fact("mismatch", problem)
    r.check(
        not mismatches,
        "every signature in the trail recovers to its signer, and every signed userOpHash has a successful "
        "receipt carrying exactly that signature (except the ones the bundler refused)",
    )
    failed = demo.trail.entries(outcome="failed")
    r.check(
        len(failed) == 1 and failed[0].address == owner.address and "disabled" in (failed[0].reason or ""),
        "the one failure on record is the owner key asked while disabled in KMS",
    )
    owner_ops = 6  # install, three grants, two revocations
    r.check(len(demo.signed_by(owner)) == owner_ops, f"the owner key signed exactly the {owner_ops} owner ops")
    r.fact("Counter.number()", f"{counter_start} at the start, {counter_end} at the end")


def _deploy_sponsor(demo: Demo, kms: LocalStack, cleanup: contextlib.ExitStack) -> VerifyingPaymaster:
    """A VerifyingPaymaster (@account-abstraction/contracts 0.7.0) trusting a new key in AWS KMS, 1 ETH deposited."""
    r, chain = demo.report, demo.chain
    kms_key = kms.create_key(description="signers demo: paymaster")
    key_id, uri = kms_key.key_id, kms_key.uri
    cleanup.callback(_schedule_deletion, kms, key_id)
    key = signers.load_signer(uri)
    cleanup.callback(key.close)
    demo.names[key.address] = "paymaster key, AWS KMS"
    demo.progress("deploying a VerifyingPaymaster and depositing for it ...")
    address = chain.deploy_verifying_paymaster(key.address, deposit_wei=10**18)
    demo.names[address] = "VerifyingPaymaster"
    r.fact("paymaster", f"{address} (VerifyingPaymaster, deposit {_wei_to_eth(chain.deposit_of(address))})")
    r.fact("paymaster key", f"{uri} -> {key.address}")
    return VerifyingPaymaster(address, key)


def _show_hsm_custody(r: Report, uri: str, signer: Signer) -> None:
    c = signer.backend.custody()
    key = c["key"]
    attributes = key["attributes"]
    r.fact("session key", uri)
    r.fact("session address", signer.address)
    r.fact("custody", f"{c['custody']}")
    r.fact("token", f"{c['token']['label']} ({c['token']['manufacturer']} {c['token']['model']})")
    r.fact("key", f"label {key['label']}, {key['key_type']} {key['curve']}, origin {key['origin']}")
    flags = ", ".join(
        f"{name}={attributes.get(name)}" for name in ("SENSITIVE", "EXTRACTABLE", "NEVER_EXTRACTABLE", "LOCAL")
    )
    r.fact("attributes", flags)
    r.fact("mechanisms", key["allowed_mechanisms"])
    for warning in c.get("warnings", []):
        r.fact("warning", warning)
    r.check(c["address"] == signer.address, "the HSM's public key gives the session address")
    r.check(
        attributes.get("EXTRACTABLE") is False and attributes.get("LOCAL") is True,
        "generated on the device, not extractable",
    )


def _schedule_deletion(kms: LocalStack, key_id: str) -> None:
    """The demo's KMS key is throwaway: schedule its deletion (matters when the LocalStack is reused)."""
    with contextlib.suppress(Exception):
        kms.client().schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
