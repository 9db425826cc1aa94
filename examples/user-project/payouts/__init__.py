"""A small payout service: an approver signs EIP-712 payout approvals with a key in custody, and a bot spends a
Smart Sessions grant that lets its session key call one contract function for the account owner."""

from __future__ import annotations

from typing import Any

import signers
from signers.aa import (
    ActionPolicyInfo,
    BundlerClient,
    Call,
    CreateSessionDataParams,
    SmartAccount,
    grant_permission,
    install_smart_sessions,
    send_session_user_operation,
)

INCREMENT = bytes.fromhex("d09de08a")  # increment()


def payout(to: str, amount: int, chain_id: int) -> dict[str, Any]:
    """The EIP-712 message a payout approval signs."""
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Payout": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        },
        "primaryType": "Payout",
        "domain": {"name": "Payouts", "chainId": chain_id},
        "message": {"to": to, "amount": amount},
    }


class Approver:
    """Signs payout approvals with the key a URI names (an HSM, a KMS: the service does not care)."""

    def __init__(self, key_uri: str, chain_id: int = 1) -> None:
        self.signer = signers.load_signer(key_uri)
        self.chain_id = chain_id

    @property
    def address(self) -> str:
        return self.signer.address

    def approve(self, to: str, amount: int) -> bytes:
        if amount <= 0:
            raise ValueError("a payout is positive")
        return bytes(self.signer.sign_typed_data(full_message=payout(to, amount, self.chain_id)).signature)


class CounterBot:
    """Calls ``increment()`` on ``counter`` for ``account`` with a session key the owner granted once."""

    def __init__(self, account: SmartAccount, bundler: BundlerClient, counter: str) -> None:
        self.account, self.bundler, self.counter = account, bundler, counter
        self.permission_id = b""

    def grant(self, owner: signers.Signer, session_key: signers.Signer) -> None:
        install_smart_sessions(self.account, owner, self.bundler)
        params = CreateSessionDataParams(
            session_public_key=session_key.address,
            action_policies_info=[ActionPolicyInfo(self.counter, "0x" + INCREMENT.hex())],
        )
        (self.permission_id,) = grant_permission(self.account, owner, self.bundler, params).permission_ids

    def bump(self, session_key: signers.Signer) -> bool:
        calls = [Call(self.counter, 0, INCREMENT)]
        result = send_session_user_operation(self.account, session_key, self.bundler, self.permission_id, calls)
        return result.receipt is not None and bool(result.receipt["success"])
