"""Small on-chain helpers shared by the demo, the end-to-end tests and the end-to-end benchmark.

Everything here is ordinary use of the local chain stack (chain/README.md) and of ``signers.aa``: a Counter of
one's own (so concurrent users of one anvil never see each other's increments), funding from an unlocked dev
account, a counterfactual Nexus account, a VerifyingPaymaster with its deposit, and the check that an audit
trail matches the bundler's receipts.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from signers.aa import AddressBook, BundlerClient, NexusAccount, NodeClient, UserOperation
from signers.audit import AuditEntry
from signers.hashing import personal_sign_hash
from signers.signature import Signature
from signers.testing.chain.deployment import deployed_address_book

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".state" / "chain" / "build" / "contracts.json"
VERIFYING_PAYMASTER = (
    ROOT / ".state/chain/npm/node_modules/@account-abstraction/contracts/artifacts/VerifyingPaymaster.json"
)
DETERMINISTIC_DEPLOYER = "0x4e59b44847b379578588920cA78FbF26c0B4956C"

INCREMENT = function_signature_to_4byte_selector("increment()")
SET_NUMBER = function_signature_to_4byte_selector("setNumber(uint256)")
NUMBER = function_signature_to_4byte_selector("number()")
LAST_CALLER = function_signature_to_4byte_selector("lastCaller()")
DEPOSIT = function_signature_to_4byte_selector("deposit()")
BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")


@dataclass(frozen=True)
class Chain:
    """What a flow needs of a running stack: the node, the bundler and the addresses (deployment.json)."""

    node: NodeClient
    bundler: BundlerClient
    chain_id: int
    book: AddressBook
    k1_validator: str
    nexus_bootstrap: str
    nexus_factory: str
    funder: str  # an unlocked anvil dev account (never Alto's executor or utility wallet)

    @classmethod
    def from_deployment(cls, d: Mapping[str, Any], funder_index: int = 0) -> Chain:
        book = deployed_address_book(d["entry_point"], d["smart_sessions"], d["ownable_validator"], d["policies"])
        free = d["dev_accounts"]["free"]
        return cls(
            node=NodeClient(d["rpc_url"]),
            bundler=BundlerClient(d["bundler_url"]),
            chain_id=int(d["chain_id"]),
            book=book,
            k1_validator=d["k1_validator"],
            nexus_bootstrap=d["nexus"]["bootstrap"],
            nexus_factory=d["nexus"]["factory"],
            funder=free[funder_index % len(free)],
        )

    def close(self) -> None:
        self.bundler.close()
        self.node.close()

    # -- transactions from the unlocked dev account ---------------------------------------------------------
    def transact(self, tx: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """eth_sendTransaction from the funder; the mined receipt (status checked)."""
        tx_hash = self.node.request("eth_sendTransaction", [{"from": self.funder, **tx}])
        deadline = time.monotonic() + timeout
        while (receipt := self.node.request("eth_getTransactionReceipt", [tx_hash])) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"transaction {tx_hash} not mined within {timeout:g} s")
            time.sleep(0.02)  # anvil automines; the receipt can trail the hash by a moment
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"transaction {tx_hash} reverted")
        return dict(receipt)

    def fund(self, address: str, wei: int = 10**18) -> dict[str, Any]:
        return self.transact({"to": address, "value": hex(wei)})

    def _deploy(self, name: str, init_code: bytes) -> str:
        """CREATE2 through the deterministic deployer with a fresh salt; the new contract's address."""
        salt = secrets.token_bytes(32)
        digest = keccak(b"\xff" + bytes.fromhex(DETERMINISTIC_DEPLOYER[2:]) + salt + keccak(init_code))
        address = to_checksum_address(digest[12:])
        self.transact({"to": DETERMINISTIC_DEPLOYER, "data": "0x" + (salt + init_code).hex(), "gas": hex(5_000_000)})
        if not self.node.get_code(address):
            raise RuntimeError(f"{name} deployment left no code at {address}")
        return address

    def deploy_counter(self) -> str:
        """A Counter of our own (chain/contracts/Counter.sol) at a fresh CREATE2 address."""
        init_code = bytes.fromhex(json.loads(BUILD.read_text())["Counter"]["bytecode"].removeprefix("0x"))
        return self._deploy("Counter", init_code)

    def deploy_verifying_paymaster(self, verifying_signer: str, deposit_wei: int = 10**18) -> str:
        """The reference VerifyingPaymaster (@account-abstraction/contracts 0.7.0) trusting
        ``verifying_signer``, with ``deposit_wei`` deposited at the EntryPoint to pay for what it sponsors."""
        artifact = json.loads(VERIFYING_PAYMASTER.read_text())
        init_code = bytes.fromhex(artifact["bytecode"].removeprefix("0x")) + encode(
            ["address", "address"], [self.book.entry_point, verifying_signer]
        )
        address = self._deploy("VerifyingPaymaster", init_code)
        self.transact({"to": address, "data": "0x" + DEPOSIT.hex(), "value": hex(deposit_wei)})
        return address

    # -- reads ----------------------------------------------------------------------------------------------
    def counter_value(self, counter: str) -> int:
        (value,) = decode(["uint256"], self.node.call(counter, NUMBER))
        return int(value)

    def counter_last_caller(self, counter: str) -> str:
        (caller,) = decode(["address"], self.node.call(counter, LAST_CALLER))
        return to_checksum_address(caller)

    def deposit_of(self, address: str) -> int:
        """What ``address`` has deposited at the EntryPoint (a paymaster pays gas from it)."""
        (value,) = decode(
            ["uint256"], self.node.call(self.book.entry_point, BALANCE_OF + encode(["address"], [address]))
        )
        return int(value)

    def transaction_status(self, tx_hash: str) -> int:
        receipt = self.node.request("eth_getTransactionReceipt", [tx_hash])
        return int(receipt["status"], 16)

    def new_account(self, owner_address: str, salt: int | None = None) -> NexusAccount:
        """The counterfactual Nexus account of ``owner_address`` (K1Validator as owner validator): not
        deployed; its first UserOperation carries the factory data."""
        return NexusAccount.for_owner(
            owner_address,
            node=self.node,
            owner_validator=self.k1_validator,
            bootstrap=self.nexus_bootstrap,
            factory=self.nexus_factory,
            salt=secrets.randbits(64) if salt is None else salt,
            chain_id=self.chain_id,
            addresses=self.book,
        )


def audit_mismatches(
    entries: Iterable[AuditEntry], bundler: BundlerClient, refused: Iterable[AuditEntry] = ()
) -> list[str]:
    """What in the audit trail does not match the chain; empty when everything matches.

    For every signed UserOperation entry: its digest is the EIP-191 hash of its userOpHash and its signature
    recovers to its address; then, on chain, the op with that userOpHash has a successful receipt and carries
    exactly that signature (a userOpHash does not cover the signature, so the same op signed by a wrong key
    and then by the right one shares its hash: only the signature tells which of the two landed). Entries the
    caller saw refused (``refused``) must be the ones whose signature is not on chain.

    For every paymaster approval (a message entry naming what it ``sponsored``): one of the landed ops, from
    that sender with that nonce, carries exactly that approval in its paymasterData.
    """
    entries = list(entries)
    refused_ids = {e.id for e in refused}
    problems = []
    landed_approvals: set[tuple[str, int, bytes]] = set()  # (sender, nonce, approval) of the ops that landed
    for entry in entries:
        if entry.outcome != "signed" or entry.kind != "user_operation":
            continue
        op_hash = str(entry.context.get("user_op_hash", ""))
        digest = personal_sign_hash(bytes.fromhex(op_hash.removeprefix("0x")))
        signature = bytes.fromhex((entry.signature or "").removeprefix("0x"))
        if entry.digest != "0x" + digest.hex():
            problems.append(f"entry {entry.id}: digest {entry.digest} is not personal_sign({op_hash})")
        if len(signature) != 65 or Signature.from_bytes(signature).recover(digest) != entry.address:
            problems.append(f"entry {entry.id}: signature does not recover to {entry.address}")
        landed = landed_operation(bundler, op_hash)
        on_chain = landed is not None and landed.signature.endswith(signature)  # session: 0x00 ‖ permissionId ‖ sig
        if landed is not None and landed.paymaster is not None:
            landed_approvals.add((landed.sender, landed.nonce, landed.paymaster_data[64:]))
        if entry.id in refused_ids:
            if on_chain:
                problems.append(f"entry {entry.id}: {op_hash} was refused, but its signature is on chain")
        elif landed is None:
            problems.append(f"entry {entry.id}: signed {op_hash} has no successful receipt")
        elif not on_chain:
            problems.append(f"entry {entry.id}: {op_hash} landed with another signature than the audited one")
    for entry in entries:
        if entry.outcome != "signed" or "sponsored" not in entry.context or entry.id in refused_ids:
            continue
        approval = bytes.fromhex((entry.signature or "").removeprefix("0x"))
        sender, nonce = str(entry.context["sponsored"]), int(entry.context["nonce"])
        if (sender, nonce, approval) not in landed_approvals:
            problems.append(f"entry {entry.id}: the approval for {sender} nonce {nonce:#x} is on no landed op")
    return problems


def landed_operation(bundler: BundlerClient, user_op_hash: str | bytes) -> UserOperation | None:
    """The op with this hash as included on chain, if it was included successfully."""
    receipt = bundler.get_user_operation_receipt(user_op_hash)
    if receipt is None or receipt.get("success") is not True:
        return None
    found = bundler.get_user_operation_by_hash(user_op_hash)
    return None if found is None else found["userOperation"]
