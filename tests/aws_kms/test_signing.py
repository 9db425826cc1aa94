"""Every signing surface of signers.Signer, signed by a secp256k1 key in LocalStack KMS, recovers to the
key's address. The key has fixed material, so the address is known before KMS is asked."""

from __future__ import annotations

import asyncio
import os

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import to_checksum_address

import signers
from signers import Signature, Signer
from signers.aa.user_operation import UserOperation, user_operation_hash
from signers.account import to_account
from signers.hashing import personal_sign_hash
from signers.signature import HALF_N
from tests.aws_kms.conftest import FIXED_ADDRESS, FIXED_PRIVATE_KEY
from tests.fixtures.localstack import KmsTestKey, LocalStack

TO = to_checksum_address("0x" + "5a" * 20)
MAIL = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Mail": [{"name": "to", "type": "address"}, {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Mail", "chainId": 1, "verifyingContract": "0x" + "cc" * 20},
    "message": {"to": TO, "contents": "hello from KMS"},
}
AUTHORIZATION = {"chainId": 1, "address": TO, "nonce": 7}


def transactions() -> dict[str, dict[str, object]]:
    base = {"to": TO, "value": 10**15, "data": b"\x01\x02", "nonce": 3, "gas": 100_000, "chainId": 1}
    access = [{"address": TO, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    fees = {"maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**9}
    auth = Account.sign_authorization({"chainId": 1, "address": TO, "nonce": 4}, "0x" + "42" * 32)
    return {
        "legacy": {**base, "gasPrice": 10**9},
        "eip2930": {**base, "gasPrice": 10**9, "accessList": access, "type": 1},
        "eip1559": {**base, **fees, "accessList": access},
        "eip7702": {**base, **fees, "authorizationList": [auth]},
    }


def user_operation(sender: str) -> UserOperation:
    return UserOperation(
        sender=sender,
        nonce=5,
        call_data=b"\xb6\x1d\x27\xf6",
        call_gas_limit=100_000,
        verification_gas_limit=200_000,
        pre_verification_gas=50_000,
        max_fee_per_gas=10**9,
        max_priority_fee_per_gas=10**9,
    )


def test_fixed_key_material_gives_the_expected_address(fixed_signer: Signer) -> None:
    assert fixed_signer.address == FIXED_ADDRESS == Account.from_key(FIXED_PRIVATE_KEY).address


def test_digest_signatures_recover_and_are_low_s(fixed_signer: Signer) -> None:
    # KMS signs with random k and about half of its raw signatures are high-s: 16 rounds cover both cases
    for _ in range(16):
        digest = os.urandom(32)
        signature = fixed_signer.sign_digest(digest)
        assert signature.recover(digest) == FIXED_ADDRESS
        assert signature.s <= HALF_N
        assert Account._recover_hash(digest, signature=signature.to_bytes()) == FIXED_ADDRESS


@pytest.mark.parametrize("message", ["hello", b"\x00\xffbytes", encode_defunct(text="signable")])
def test_eip191_messages(fixed_signer: Signer, message: object) -> None:
    signable = (
        message
        if not isinstance(message, (str, bytes))
        else (encode_defunct(text=message) if isinstance(message, str) else encode_defunct(primitive=message))
    )
    signed = fixed_signer.sign_message(message)  # type: ignore[arg-type]
    assert Account.recover_message(signable, signature=signed.signature) == FIXED_ADDRESS


def test_eip712_typed_data(fixed_signer: Signer) -> None:
    signed = fixed_signer.sign_typed_data(full_message=MAIL)
    assert Account.recover_message(encode_typed_data(full_message=MAIL), signature=signed.signature) == FIXED_ADDRESS
    types = {k: v for k, v in MAIL["types"].items() if k != "EIP712Domain"}  # type: ignore[union-attr]
    split = fixed_signer.sign_typed_data(MAIL["domain"], types, MAIL["message"])  # type: ignore[arg-type]
    assert split.message_hash == signed.message_hash
    assert Account.recover_message(encode_typed_data(full_message=MAIL), signature=split.signature) == FIXED_ADDRESS


@pytest.mark.parametrize("kind", ["legacy", "eip2930", "eip1559", "eip7702"])
def test_transactions(fixed_signer: Signer, kind: str) -> None:
    tx = transactions()[kind]
    signed = fixed_signer.sign_transaction(tx)
    assert Account.recover_transaction(signed.raw_transaction) == FIXED_ADDRESS
    # same unsigned payload as eth-account's own signer: only (r, s, v) may differ (KMS uses random k)
    theirs = Account.sign_transaction(tx, FIXED_PRIVATE_KEY)
    assert Account.recover_transaction(theirs.raw_transaction) == FIXED_ADDRESS
    assert len(signed.raw_transaction) - len(theirs.raw_transaction) in range(-2, 3)


def test_eip7702_authorization(fixed_signer: Signer) -> None:
    signed = fixed_signer.sign_authorization(AUTHORIZATION)
    assert to_checksum_address(signed.authority) == FIXED_ADDRESS
    assert signed.authorization_hash == Account.sign_authorization(AUTHORIZATION, FIXED_PRIVATE_KEY).authorization_hash


def test_user_operation(fixed_signer: Signer) -> None:
    entry_point = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
    op = user_operation("0x" + "ab" * 20)
    signature = fixed_signer.sign_user_operation(op, entry_point, 1)
    digest = personal_sign_hash(user_operation_hash(op, entry_point, 1))
    assert signature.recover(digest) == FIXED_ADDRESS
    assert signature.v in (27, 28)


def test_eth_account_adapter(fixed_signer: Signer) -> None:
    account = to_account(fixed_signer)
    assert account.address == FIXED_ADDRESS
    signed = account.sign_message(encode_defunct(text="adapter"))
    assert Account.recover_message(encode_defunct(text="adapter"), signature=signed.signature) == FIXED_ADDRESS


async def test_async_twins(fixed_signer: Signer) -> None:
    digest = os.urandom(32)
    assert (await fixed_signer.asign_digest(digest)).recover(digest) == FIXED_ADDRESS
    signed = await fixed_signer.asign_message("async")
    assert Account.recover_message(encode_defunct(text="async"), signature=signed.signature) == FIXED_ADDRESS
    typed = await fixed_signer.asign_typed_data(full_message=MAIL)
    assert Account.recover_message(encode_typed_data(full_message=MAIL), signature=typed.signature) == FIXED_ADDRESS
    for tx in transactions().values():
        assert Account.recover_transaction((await fixed_signer.asign_transaction(tx)).raw_transaction) == FIXED_ADDRESS
    auth = await fixed_signer.asign_authorization(AUTHORIZATION)
    assert to_checksum_address(auth.authority) == FIXED_ADDRESS
    entry_point = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
    op = user_operation("0x" + "cd" * 20)
    sig = await fixed_signer.asign_user_operation(op, entry_point, 10)
    assert sig.recover(personal_sign_hash(user_operation_hash(op, entry_point, 10))) == FIXED_ADDRESS


async def test_concurrent_async_signatures_all_recover(fixed_signer: Signer) -> None:
    digests = [os.urandom(32) for _ in range(16)]
    results: list[Signature] = await asyncio.gather(*(fixed_signer.asign_digest(d) for d in digests))
    assert [s.recover(d) for s, d in zip(results, digests, strict=True)] == [FIXED_ADDRESS] * len(digests)


def test_key_id_alias_and_arn_uris_name_the_same_key(localstack: LocalStack, kms_key_factory: object) -> None:
    alias = f"alias/signing-{os.urandom(4).hex()}"
    key: KmsTestKey = kms_key_factory(alias=alias)  # type: ignore[operator]
    uris = [key.uri, localstack.uri(alias), localstack.uri(key.arn)]
    # an ARN names its region: the URI needs no region= (and a contradicting one is refused, see test_target)
    uris.append(f"aws-kms://{key.arn}?endpoint-url={localstack.endpoint}")
    for uri in uris:
        with signers.load_signer(uri) as signer:
            assert signer.address == key.address
            digest = os.urandom(32)
            assert signer.sign_digest(digest).recover(digest) == key.address


def test_fresh_key_fixture_uri_signs(aws_kms_uri: str) -> None:
    """The fixture the end-to-end tests use for their owner key."""
    with signers.load_signer(aws_kms_uri) as signer:
        digest = os.urandom(32)
        assert signer.sign_digest(digest).recover(digest) == signer.address
