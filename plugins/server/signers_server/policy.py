"""What each client may do (from its [clients.NAME] table), checked before the library is asked to sign.

The library's own policies (``before_sign`` hooks: the Smart Sessions scope check, a user's plugins) run
after these, inside ``Signer``. Every refusal here is a 4001 "User denied: ..." naming the rule, or -32000
for an address the client may not use.
"""

from __future__ import annotations

from typing import Any

from .config import ClientConfig
from .errors import UNAUTHORIZED_ADDRESS, RpcError, denied
from .keyring import Key, Keyring


def key_for(client: ClientConfig, keyring: Keyring, address: str) -> Key:
    """The key at ``address`` if this client may use it. An unknown address and a key of another client get
    the same answer, so a client cannot probe which addresses the service holds."""
    key = keyring.by_address.get(address.lower())
    if key is None or not client.may_use_key(key.name):
        raise RpcError(UNAUTHORIZED_ADDRESS, f"unknown or unauthorised account {address}")
    return key


def client_keys(client: ClientConfig, keyring: Keyring) -> list[Key]:
    return [key for key in keyring.by_name.values() if client.may_use_key(key.name)]


def check_chain(client: ClientConfig, chain_id: int, what: str) -> None:
    if chain_id not in client.chain_ids:
        raise denied(f"{what} is for chain {chain_id}, which this client may not sign for", "client.chain_ids")


def check_transaction(client: ClientConfig, fields: dict[str, Any]) -> None:
    check_chain(client, int(fields["chainId"]), "the transaction")
    if client.to is not None:
        to = fields.get("to")
        if to is None:
            raise denied("contract creation is not in this client's to allowlist", "client.to")
        if to.lower() not in client.to:
            raise denied(f"the transaction's to {to} is not in this client's allowlist", "client.to")
    if client.max_value_wei is not None and int(fields.get("value", 0)) > client.max_value_wei:
        raise denied(f"the value exceeds this client's cap of {client.max_value_wei} wei", "client.max_value_wei")
    if client.max_fee_per_gas_wei is not None:
        for name in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"):
            if int(fields.get(name, 0)) > client.max_fee_per_gas_wei:
                raise denied(
                    f"{name} exceeds this client's cap of {client.max_fee_per_gas_wei} wei per gas",
                    "client.max_fee_per_gas_wei",
                )


def check_message(client: ClientConfig, data: bytes) -> None:
    """A bare 32-byte message is most likely a hash (a userOpHash, an order hash): signing it blind means
    not knowing what it authorises, so a client needs hash_messages = true for it."""
    if len(data) == 32 and not client.hash_messages:
        raise denied(
            "a 32-byte message is signed only for clients with hash_messages = true (it may be a hash); "
            "send UserOperations with signers_signUserOperation",
            "client.hash_messages",
        )
