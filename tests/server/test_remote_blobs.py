"""An EIP-4844 transaction with blobs, signed through the Python client (``signers+http``).

The blobs themselves never travel (the service signs the transaction's hash, which holds only their versioned
hashes): with ``blobVersionedHashes`` given, the signed network form equals eth-account's; without them the
forwarded transaction would hash differently, so the client refuses before any request is sent."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.typed_transactions.blob_transactions.blob_transaction import BlobTransaction

import signers
from signers.errors import ConfigurationError

from .conftest import LOCAL_KEY, LOCAL_KEY_ENV, LOCAL_KEY_URI
from .test_remote_backend import TOKEN_ENV, remote_uri

ACCOUNT = Account.from_key(LOCAL_KEY)
BLOB = b"\x00" * 131071 + b"\x2a"  # 4096 field elements, each below the BLS modulus
TX: dict[str, Any] = {
    "type": 3,
    "chainId": 31337,
    "nonce": 0,
    "to": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "value": 0,
    "gas": 21000,
    "maxFeePerGas": 2 * 10**9,
    "maxPriorityFeePerGas": 10**9,
    "maxFeePerBlobGas": 10**9,
}


@pytest.fixture
def remote(signers_server, monkeypatch):
    server = signers_server(
        {"server": {"chain_id": 31337}, "keys": {"dev": {"uri": LOCAL_KEY_URI}}, "clients": {"app": {"keys": ["dev"]}}},
        env=LOCAL_KEY_ENV,
    )
    monkeypatch.setenv(TOKEN_ENV, server.token("app"))
    signer = signers.load_signer(remote_uri(server, "dev"))
    yield server, signer
    signer.close()


def _versioned_hashes(tx: dict[str, Any]) -> list[bytes]:
    """The blob's versioned hash, as eth-account computes it (an independent source: not the client's code)."""
    return [bytes(h.data) for h in BlobTransaction.from_dict(tx, blobs=[BLOB]).blob_data.versioned_hashes]


def test_a_blob_transaction_with_its_versioned_hashes_equals_eth_account(remote):
    server, signer = remote
    tx = {**TX, "blobVersionedHashes": _versioned_hashes(TX)}
    expected = ACCOUNT.sign_transaction(tx, blobs=[BLOB])
    signed = signer.sign_transaction(tx, blobs=[BLOB])
    assert signed.raw_transaction == expected.raw_transaction  # the network form, blobs included
    assert Account.recover_transaction(signed.raw_transaction) == ACCOUNT.address
    assert [line.get("method") for line in server.log_lines()].count("eth_signTransaction") == 1


@pytest.mark.asyncio
async def test_blobs_without_versioned_hashes_are_refused_before_any_request(remote):
    server, signer = remote
    with pytest.raises(ConfigurationError, match="blobVersionedHashes") as caught:
        signer.sign_transaction(TX, blobs=[BLOB])
    assert "nothing was sent" in str(caught.value)
    with pytest.raises(ConfigurationError, match="blobVersionedHashes"):
        await signer.asign_transaction(TX, blobs=[BLOB])
    assert "eth_signTransaction" not in [line.get("method") for line in server.log_lines()]
