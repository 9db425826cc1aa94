"""VerifyingPaymaster hooks without a chain: the paymasterData layout, which gas limits get signed, the
sponsor policy and bad arguments. The hash itself is checked against the contract's getHash on the local
chain (tests/e2e/test_paymaster.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from signers.aa import (
    AAConfigurationError,
    SponsorshipRefusedError,
    UserOperation,
    VerifyingPaymaster,
    decode_validity,
    verifying_paymaster_hash,
)
from signers.audit import AuditTrail
from signers.hashing import personal_sign_hash
from signers.signature import Signature
from signers.signer import Signer

PAYMASTER = "0x00000000000000000000000000000000000000AA"  # checksummed
ENTRY_POINT = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
NOW = 1_800_000_000


def _op(**fields: int) -> UserOperation:
    return UserOperation(
        sender="0x1111111111111111111111111111111111111111",
        nonce=7,
        call_data=b"\x01\x02",
        call_gas_limit=100_000,
        verification_gas_limit=200_000,
        pre_verification_gas=50_000,
        max_fee_per_gas=3,
        max_priority_fee_per_gas=1,
        **fields,
    )


@pytest.fixture
def key(make_signer: Callable[[bytes], Signer]) -> Signer:
    return make_signer(os.urandom(32))


def test_stub_has_the_final_layout(key: Signer) -> None:
    stub = VerifyingPaymaster(PAYMASTER, key).stub_data(_op(), ENTRY_POINT, 31337)
    valid_until, valid_after, signature = decode_validity(stub.paymaster_data)
    assert (valid_until, valid_after) == (2**48 - 1, 0) and len(signature) == 65
    # well-formed (low s, v 27/28, r on the curve): OpenZeppelin's ECDSA.recover reverts on anything else,
    # which would fail the bundler's gas estimation instead of just failing the (stand-in) check
    assert Signature.from_bytes(signature).recover(os.urandom(32)).startswith("0x")


def test_data_signs_the_limits_the_op_will_carry(key: Signer) -> None:
    op = _op(paymaster_verification_gas_limit=70_000, paymaster_post_op_gas_limit=5)
    paymaster = VerifyingPaymaster(PAYMASTER, key, valid_for=120, clock=lambda: NOW)
    data = paymaster.data(op, ENTRY_POINT, 10)
    assert (data.paymaster_verification_gas_limit, data.paymaster_post_op_gas_limit) == (70_000, 5)
    valid_until, valid_after, signature = decode_validity(data.paymaster_data)
    assert (valid_until, valid_after) == (NOW + 120, 0)
    final = data.apply(op)
    digest = verifying_paymaster_hash(final, PAYMASTER, 10, valid_until, valid_after)
    assert Signature.from_bytes(signature).recover(personal_sign_hash(digest)) == key.address
    # every signed field matters: another chain, another limit or another validity is another hash
    assert digest != verifying_paymaster_hash(final, PAYMASTER, 11, valid_until, valid_after)
    assert digest != verifying_paymaster_hash(
        final.replace(paymaster_post_op_gas_limit=6), PAYMASTER, 10, valid_until, 0
    )
    assert digest != verifying_paymaster_hash(final, PAYMASTER, 10, valid_until + 1, valid_after)


def test_fixed_limits_override_the_estimate(key: Signer) -> None:
    op = _op(paymaster_verification_gas_limit=999_999, paymaster_post_op_gas_limit=999)
    data = VerifyingPaymaster(PAYMASTER, key, verification_gas_limit=60_000, post_op_gas_limit=0).data(
        op, ENTRY_POINT, 1
    )
    assert (data.paymaster_verification_gas_limit, data.paymaster_post_op_gas_limit) == (60_000, 0)
    valid_until, _, signature = decode_validity(data.paymaster_data)
    digest = verifying_paymaster_hash(data.apply(op), PAYMASTER, 1, valid_until, 0)
    assert Signature.from_bytes(signature).recover(personal_sign_hash(digest)) == key.address


def test_approvals_are_audited_with_what_they_sponsor(key: Signer, tmp_path: os.PathLike[str]) -> None:
    trail = AuditTrail(os.path.join(tmp_path, "audit.sqlite"))
    key.plugin_manager.register(trail)
    VerifyingPaymaster(PAYMASTER, key, clock=lambda: NOW).data(_op(), ENTRY_POINT, 5)
    (entry,) = trail.entries()
    assert entry.kind == "message" and entry.outcome == "signed"
    assert entry.context == {"paymaster": PAYMASTER, "sponsored": _op().sender, "nonce": 7, "chain_id": 5,
                             "valid_until": NOW + 600}  # fmt: skip
    trail.close()
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("signers")), "audit", "--db", trail.path],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert f"{key.address} message" in shown and f"sponsors {_op().sender} nonce 0x7" in shown


def test_sponsor_policy_refuses_without_signing(key: Signer) -> None:
    signed: list[object] = []
    key.plugin_manager.register(type("Spy", (), {"after_sign": lambda self, request, signature: signed.append(1)})())
    paymaster = VerifyingPaymaster(PAYMASTER, key, sponsor=lambda op: op.nonce != 7)
    for hook in (paymaster.stub_data, paymaster.data):
        with pytest.raises(SponsorshipRefusedError, match="nonce 0x7") as caught:
            hook(_op(), ENTRY_POINT, 1)
        assert "without a paymaster" in caught.value.hint
    assert signed == []
    assert paymaster.data(_op().replace(nonce=8), ENTRY_POINT, 1).paymaster == PAYMASTER


@pytest.mark.parametrize("valid_for", [0, -5, 2**48])
def test_refuses_a_nonsense_validity(key: Signer, valid_for: int) -> None:
    with pytest.raises(AAConfigurationError, match="valid_for"):
        VerifyingPaymaster(PAYMASTER, key, valid_for=valid_for)


def test_decode_validity_refuses_short_data() -> None:
    with pytest.raises(AAConfigurationError, match="31 bytes"):
        decode_validity(bytes(31))
    data = (5).to_bytes(32, "big") + (3).to_bytes(32, "big") + b"sig"
    assert decode_validity(data) == (5, 3, b"sig")
