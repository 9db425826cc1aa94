"""Sponsor UserOperations with the EntryPoint v0.7 ``VerifyingPaymaster``, its signing key in custody.

The reference ``VerifyingPaymaster`` (``@account-abstraction/contracts`` 0.7.0, samples/) pays for an op when
``paymasterData`` carries ``abi.encode(uint48 validUntil, uint48 validAfter)`` followed by the
``verifyingSigner``'s EIP-191 signature over ``getHash(op, validUntil, validAfter)``. That key decides who
gets gas for free, so it deserves the same custody as an owner key: ``VerifyingPaymaster`` signs with any
``Signer`` (KMS, HSM) and plugs into the flows as their ``paymaster=`` (the ``Paymaster`` protocol), or sits
behind an ERC-7677 service of one's own (then fix its gas limits: ERC-7677 does not pass the estimate).

The approval covers every op field but the signature and ``paymasterData`` itself, including the paymaster
gas limits: ``data`` is therefore asked after gas estimation, with the limits the op will carry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak

from ..signer import Signer
from .accounts import ECDSA_DUMMY_SIGNATURE
from .bundler import PaymasterData
from .errors import AAConfigurationError, SponsorshipRefusedError
from .hexutil import to_address
from .user_operation import UserOperation

# the getHash arguments of VerifyingPaymaster 0.7, in order
_HASH_TYPES = [
    "address", "uint256", "bytes32", "bytes32", "bytes32", "uint256", "uint256", "bytes32", "uint256", "address",
    "uint48", "uint48",
]  # fmt: skip
_UINT48_MAX = 2**48 - 1


def verifying_paymaster_hash(
    op: UserOperation, paymaster: str, chain_id: int, valid_until: int, valid_after: int
) -> bytes:
    """``VerifyingPaymaster.getHash(op, validUntil, validAfter)`` on chain ``chain_id`` (before EIP-191)."""
    packed = op.packed()
    limits = op.paymaster_verification_gas_limit.to_bytes(16, "big") + op.paymaster_post_op_gas_limit.to_bytes(
        16, "big"
    )
    return keccak(
        encode(
            _HASH_TYPES,
            [
                packed.sender,
                packed.nonce,
                keccak(packed.init_code),
                keccak(packed.call_data),
                packed.account_gas_limits,
                int.from_bytes(limits, "big"),
                packed.pre_verification_gas,
                packed.gas_fees,
                chain_id,
                to_address(paymaster, "paymaster"),
                valid_until,
                valid_after,
            ],
        )
    )


def decode_validity(paymaster_data: bytes) -> tuple[int, int, bytes]:
    """(validUntil, validAfter, signature) of a VerifyingPaymaster ``paymasterData``."""
    if len(paymaster_data) < 64:
        raise AAConfigurationError(f"VerifyingPaymaster data is {len(paymaster_data)} bytes, at least 64 expected")
    valid_until, valid_after = decode(["uint48", "uint48"], paymaster_data[:64])
    return int(valid_until), int(valid_after), paymaster_data[64:]


class VerifyingPaymaster:
    """The ``Paymaster`` hooks for a deployed VerifyingPaymaster whose ``verifyingSigner`` is ``signer``.

    Each approval is valid for ``valid_for`` seconds from signing (``validUntil``; the EntryPoint refuses
    it afterwards with AA32). ``sponsor`` decides per op: return False to refuse (the flow then fails before
    any signature is made). The gas limits are the bundler's estimate unless given here.
    """

    def __init__(
        self,
        address: str,
        signer: Signer,
        *,
        valid_for: int = 600,
        verification_gas_limit: int | None = None,
        post_op_gas_limit: int | None = None,
        sponsor: Callable[[UserOperation], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < valid_for <= _UINT48_MAX:
            raise AAConfigurationError(f"valid_for must be a positive number of seconds, not {valid_for!r}")
        self.address = to_address(address, "paymaster")
        self.signer = signer
        self.valid_for = valid_for
        self.verification_gas_limit = verification_gas_limit
        self.post_op_gas_limit = post_op_gas_limit
        self._sponsor = sponsor
        self._clock = clock

    def __repr__(self) -> str:
        return f"VerifyingPaymaster({self.address}, signer={self.signer.address})"

    def _data(self, paymaster_data: bytes, op: UserOperation) -> PaymasterData:
        # fixed limits when configured, else the op's own (the bundler's estimate once it has been made)
        verification, post_op = self.verification_gas_limit, self.post_op_gas_limit
        return PaymasterData(
            paymaster=self.address,
            paymaster_data=paymaster_data,
            paymaster_verification_gas_limit=op.paymaster_verification_gas_limit
            if verification is None
            else verification,
            paymaster_post_op_gas_limit=op.paymaster_post_op_gas_limit if post_op is None else post_op,
        )

    def _refuse_unsponsored(self, op: UserOperation) -> None:
        if self._sponsor is not None and not self._sponsor(op):
            raise SponsorshipRefusedError(f"{self!r} does not sponsor ops of {op.sender} (nonce {op.nonce:#x})")

    def stub_data(self, op: UserOperation, entry_point: str, chain_id: int) -> PaymasterData:
        """For gas estimation: the final layout with a well-formed stand-in signature (recover must not revert)."""
        self._refuse_unsponsored(op)
        return self._data(encode(["uint48", "uint48"], [_UINT48_MAX, 0]) + ECDSA_DUMMY_SIGNATURE, op)

    def data(self, op: UserOperation, entry_point: str, chain_id: int) -> PaymasterData:
        """The signed approval for ``op`` as it will be sent (gas limits and fees filled)."""
        self._refuse_unsponsored(op)
        final = self._data(b"", op).apply(op)  # the paymaster gas limits are part of the signed hash
        valid_until, valid_after = int(self._clock()) + self.valid_for, 0
        digest = verifying_paymaster_hash(final, self.address, chain_id, valid_until, valid_after)
        context: dict[str, Any] = {
            "paymaster": self.address,
            "sponsored": final.sender,
            "nonce": final.nonce,
            "chain_id": chain_id,
            "valid_until": valid_until,
        }
        signed = self.signer.sign_message(digest, context=context)
        return self._data(encode(["uint48", "uint48"], [valid_until, valid_after]) + signed.signature, final)
