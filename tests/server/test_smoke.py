"""The service starts from a config, answers eth_accounts and signs a message that recovers to its key."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct

from .conftest import LOCAL_KEY


def test_personal_sign_recovers(signers_server, local_key_env):
    server = signers_server(
        {"server": {"chain_id": 31337}, "keys": {"dev": {"uri": local_key_env}}, "clients": {"app": {"keys": ["dev"]}}}
    )
    address = Account.from_key(LOCAL_KEY).address
    assert server.result("eth_accounts", [], "app") == [address]
    signature = server.result("personal_sign", ["0x68656c6c6f", address.lower()], "app")
    assert Account.recover_message(encode_defunct(b"hello"), signature=signature) == address
