"""The eth-account adapter in web3.py's signing middleware, sending real transactions to a real anvil node."""

from __future__ import annotations

import secrets

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

import signers
from signers import UnsupportedOperationError
from signers.account import SignerAccount, to_account
from tests.fixtures.chain import ChainStack


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> SignerAccount:
    monkeypatch.setenv("WEB3_TEST_KEY", "0x" + secrets.token_hex(32))
    return to_account(signers.load_signer("local:env:WEB3_TEST_KEY", chain_id=31337))


@pytest.fixture
def w3(chain_stack: ChainStack, account: SignerAccount) -> Web3:
    w3 = Web3(Web3.HTTPProvider(chain_stack.rpc_url))
    funder = chain_stack.accounts[-1]
    tx = {
        "to": account.address,
        "value": 10**18,
        "gas": 21000,
        "gasPrice": w3.eth.gas_price,
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(funder.address),
    }
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(Account.sign_transaction(tx, funder.private_key).raw_transaction)
    )
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
    return w3


def test_middleware_sends_transactions_signed_in_custody(w3: Web3, account: SignerAccount) -> None:
    to = Web3.to_checksum_address("0x" + secrets.token_hex(20))
    for value, extra in ((1234, {}), (5678, {"gasPrice": w3.eth.gas_price})):  # EIP-1559, then legacy
        tx_hash = w3.eth.send_transaction({"from": account.address, "to": to, "value": value, **extra})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt.status == 1
        assert w3.eth.get_transaction(tx_hash)["from"] == account.address
    assert w3.eth.get_balance(to) == 1234 + 5678


def test_adapter_is_an_eth_account_without_a_key(account: SignerAccount) -> None:
    signed = account.sign_message(encode_defunct(text="hi"))
    assert Account.recover_message(encode_defunct(text="hi"), signature=signed.signature) == account.address
    digest = secrets.token_bytes(32)
    assert Account._recover_hash(digest, signature=account.unsafe_sign_hash(digest).signature) == account.address
    with pytest.raises(UnsupportedOperationError, match="custody"):
        _ = account.key
    with pytest.raises(UnsupportedOperationError):
        account.encrypt("pw")
    assert "WEB3_TEST_KEY" in repr(account) and account.signer.address in repr(account)
