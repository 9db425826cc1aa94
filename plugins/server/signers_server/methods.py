"""The JSON-RPC methods. Each takes the call (who asks, with which keys) and the params, and returns the
result; errors are ``RpcError``. Every Ethereum job (hashing, transactions, UserOperations) is the core's:
this module only reads params, applies the client's rights and formats answers."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from signers.aa import (
    SCOPES,
    UserOperation,
    addresses_for,
    decode_use_signature,
    encode_use_signature,
    stub_signature,
    user_operation_hash,
)
from signers.aa.accounts import split_nonce
from signers.caller import acting_for
from signers.errors import PolicyViolationError, SignerError

from . import params, policy
from .config import ClientConfig
from .errors import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError, from_signer_error, invalid_params
from .keyring import Key
from .txfields import fill_from_node, parse_transaction

if TYPE_CHECKING:
    from .app import Generation, Service


@dataclass
class Call:
    """One JSON-RPC call: the service, the configuration generation it runs on, the client, and what the
    access log should say about it (the key used)."""

    service: Service
    generation: Generation
    client: ClientConfig
    key: str | None = None

    def key_for(self, address: Any, where: str) -> Key:
        key = policy.key_for(self.client, self.generation.keyring, params.address(address, where))
        self.key = key.name
        return key

    def only_key(self, where: str) -> Key:
        keys = policy.client_keys(self.client, self.generation.keyring)
        if len(keys) != 1:
            raise invalid_params(f"{where} is required: this client may use {len(keys)} keys")
        self.key = keys[0].name
        return keys[0]

    async def sign(self, key: Key, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``Signer.<method>`` for this client: in the audit trail under its name, timed per backend."""
        metrics = self.service.metrics
        started = time.perf_counter()
        try:
            with acting_for(self.client.name):
                result = await self.service.runner.call(key, method, *args, **kwargs)
        except PolicyViolationError as error:
            raise from_signer_error(error) from None
        except SignerError as error:
            answer = from_signer_error(error)
            if answer.code != INVALID_PARAMS:  # a bad request, not the backend's failure
                metrics.backend_errors.labels(key.backend, type(error).__name__).inc()
            raise answer from None
        metrics.latency.labels(key.backend).observe(time.perf_counter() - started)
        return result

    def chain_id(self) -> int | None:
        return self.generation.config.chain_id


Method = Callable[[Call, Any], Awaitable[Any]]


# -- accounts and chain --------------------------------------------------------------------------------------
async def eth_accounts(call: Call, p: Any) -> Any:
    return [key.address for key in policy.client_keys(call.client, call.generation.keyring)]


async def eth_chain_id(call: Call, p: Any) -> Any:
    if call.chain_id() is not None:
        return hex(call.chain_id())  # type: ignore[arg-type]
    return await call.service.node_call("eth_chainId", [])


async def health_status(call: Call, p: Any) -> Any:
    return "OK"


# -- messages, typed data, digests -------------------------------------------------------------------------
async def _sign_bytes(call: Call, address: Any, data: Any, method: str, address_at: int) -> str:
    key = call.key_for(address, f"params[{address_at}]")
    message = params.data(data, f"params[{1 - address_at}]")
    policy.check_message(call.client, message)
    signed = await call.sign(key, "sign_message", message, context={"method": method})
    return "0x" + bytes(signed.signature).hex()


async def personal_sign(call: Call, p: Any) -> Any:
    data, address = params.positional(p, 3, "personal_sign", optional=1)[:2]  # a third (password) is ignored
    return await _sign_bytes(call, address, data, "personal_sign", 1)


async def eth_sign(call: Call, p: Any) -> Any:
    address, data = params.positional(p, 2, "eth_sign")
    return await _sign_bytes(call, address, data, "eth_sign", 0)


async def eth_sign_typed_data(call: Call, p: Any) -> Any:
    address, typed = params.positional(p, 2, "eth_signTypedData_v4")
    key = call.key_for(address, "params[0]")
    if isinstance(typed, str):
        try:
            typed = json.loads(typed)
        except ValueError:
            raise invalid_params("params[1] must be the typed data as JSON") from None
    typed = params.obj(typed, "params[1]")
    domain = typed.get("domain")
    if isinstance(domain, dict) and domain.get("chainId") is not None:
        value = domain["chainId"]
        try:
            chain = int(value, 0) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise invalid_params("params[1].domain.chainId must be an integer") from None
        policy.check_chain(call.client, chain, "the typed data")
    signed = await call.sign(key, "sign_typed_data", full_message=typed)
    return "0x" + bytes(signed.signature).hex()


async def signers_sign_digest(call: Call, p: Any) -> Any:
    address, digest = params.positional(p, 2, "signers_signDigest")
    key = call.key_for(address, "params[0]")
    signature = await call.sign(key, "sign_digest", params.data(digest, "params[1]", 32))
    return "0x" + signature.to_bytes().hex()


# -- transactions --------------------------------------------------------------------------------------------
async def _prepare_transaction(call: Call, p: Any, method: str) -> tuple[Key, dict[str, Any], list[bytes] | None]:
    (tx,) = params.positional(p, 1, method)
    fields, blobs = parse_transaction(tx)
    key = call.key_for(fields["from"], "params[0].from") if "from" in fields else call.only_key("params[0].from")
    fields.pop("from", None)
    if "chainId" not in fields:
        if call.chain_id() is None:
            raise invalid_params("params[0].chainId is required (the service has no chain_id configured)")
        fields["chainId"] = call.chain_id()
    policy.check_chain(call.client, fields["chainId"], "the transaction")  # before asking the node anything
    await fill_from_node(fields, key.address, call.service.upstream)
    policy.check_transaction(call.client, fields)
    return key, fields, blobs


async def eth_sign_transaction(call: Call, p: Any) -> Any:
    key, fields, blobs = await _prepare_transaction(call, p, "eth_signTransaction")
    signed = await call.sign(key, "sign_transaction", fields, blobs)
    return "0x" + bytes(signed.raw_transaction).hex()


async def eth_send_transaction(call: Call, p: Any) -> Any:
    key, fields, blobs = await _prepare_transaction(call, p, "eth_sendTransaction")
    signed = await call.sign(key, "sign_transaction", fields, blobs)
    return await call.service.node_call("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])


# -- EIP-7702 and ERC-4337 -----------------------------------------------------------------------------------
async def signers_sign_authorization(call: Call, p: Any) -> Any:
    auth, address = params.positional(p, 2, "signers_signAuthorization", optional=1)
    auth = params.obj(auth, "params[0]")
    if set(auth) - {"chainId", "address", "nonce"}:
        raise invalid_params("params[0] takes chainId, address and nonce only")
    fields: dict[str, Any] = {
        "chainId": params.quantity(auth.get("chainId"), "params[0].chainId"),
        "address": params.address(auth.get("address"), "params[0].address"),
        "nonce": params.quantity(auth.get("nonce"), "params[0].nonce"),
    }
    key = call.key_for(address, "params[1]") if address is not None else call.only_key("params[1]")
    policy.check_chain(call.client, fields["chainId"], "the authorization")
    signed = await call.sign(key, "sign_authorization", fields)
    return {
        "chainId": hex(signed.chain_id),
        "address": fields["address"],
        "nonce": hex(signed.nonce),
        "yParity": hex(signed.y_parity),
        "r": hex(signed.r),
        "s": hex(signed.s),
    }


def _session_permission(op: UserOperation, chain_id: int, given: Any) -> bytes | None:
    """The permission id when the op's nonce key selects the Smart Sessions module, else None (owner op)."""
    _, _, validator, _ = split_nonce(op.nonce)
    modules = {addresses_for(chain_id).smart_sessions, *SCOPES.smart_sessions_addresses()}
    if validator not in modules:
        return None
    if given is not None:
        return params.data(given, "params[0].permissionId", 32)
    try:
        return decode_use_signature(op.signature)[0]
    except SignerError:
        raise invalid_params(
            "params[0]: a Smart Sessions op needs permissionId, or its USE-mode stub in userOperation.signature"
        ) from None


async def signers_sign_user_operation(call: Call, p: Any) -> Any:
    (request,) = params.positional(p, 1, "signers_signUserOperation")
    request = params.obj(request, "params[0]")
    if set(request) - {"userOperation", "entryPoint", "chainId", "address", "permissionId"}:
        raise invalid_params("params[0] takes userOperation, entryPoint, chainId, address and permissionId")
    chain_id = params.quantity(request.get("chainId"), "params[0].chainId")
    entry_point = params.address(request.get("entryPoint"), "params[0].entryPoint")
    rpc_op = params.obj(request.get("userOperation"), "params[0].userOperation")
    try:
        op = UserOperation.from_rpc(rpc_op)
    except SignerError as error:
        raise from_signer_error(error) from None
    except (KeyError, TypeError, ValueError):
        raise invalid_params(
            "params[0].userOperation is not a v0.7 UserOperation (sender, nonce, callData...)"
        ) from None
    address = request.get("address")
    key = call.key_for(address, "params[0].address") if address is not None else call.only_key("params[0].address")
    policy.check_chain(call.client, chain_id, "the UserOperation")
    permission = _session_permission(op, chain_id, request.get("permissionId"))
    if permission is not None:
        op = op.replace(signature=stub_signature(permission))  # the scope check reads the permission from it
    signature = await call.sign(key, "sign_user_operation", op, entry_point, chain_id)
    ecdsa = signature.to_bytes()
    wrapped = encode_use_signature(permission, ecdsa) if permission is not None else ecdsa
    return {
        "signature": "0x" + wrapped.hex(),
        "ecdsa": "0x" + ecdsa.hex(),
        "userOpHash": "0x" + user_operation_hash(op, entry_point, chain_id).hex(),
    }


METHODS: dict[str, Method] = {
    "eth_accounts": eth_accounts,
    "eth_chainId": eth_chain_id,
    "health_status": health_status,
    "personal_sign": personal_sign,
    "eth_sign": eth_sign,
    "eth_signTypedData_v4": eth_sign_typed_data,
    "eth_signTypedData": eth_sign_typed_data,
    "eth_signTransaction": eth_sign_transaction,
    "eth_sendTransaction": eth_send_transaction,
    "signers_signDigest": signers_sign_digest,
    "signers_signAuthorization": signers_sign_authorization,
    "signers_signUserOperation": signers_sign_user_operation,
}


def find(method: str) -> tuple[str, Method | None]:
    """(the right a client needs, the method) for a method name; proxied reads need the right "node"."""
    if method in METHODS:
        return method, METHODS[method]
    # a node may hold unlocked accounts (anvil does): nothing that signs or sends unsigned is ever forwarded
    if method.startswith("eth_") and not method.startswith("eth_sign") and method != "eth_sendTransaction":
        return "node", None
    raise RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist / is not available")
