"""Smart accounts: the Startale account (default flavour) and a Nexus account (local chain flavour).

Both are ERC-7579 accounts on EntryPoint v0.7 that pick the validator from the nonce key:

    nonce = [3 bytes free key][1 byte validation mode][20 bytes validator][8 bytes sequence]

* ``StartaleAccount``: the owner's ECDSA validator is the account's built-in *default validator*, selected
  by validator address 0. The owner signs EIP-191 over the userOpHash; the signature is the bare 65 bytes.
* ``NexusAccount``: Nexus 1.0.1 has no built-in validator, so the owner validator is an installed module
  (a K1/ECDSA validator) whose address goes in the nonce key. Same owner signature.

In both, Smart Sessions ops put the SmartSession module in the nonce key and sign with the session key
(EIP-191 over the userOpHash, wrapped as 0x00 ‖ permissionId ‖ r‖s‖v).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from .addresses import ZERO_ADDRESS, AddressBook, addresses_for
from .errors import AAConfigurationError
from .execution import Call, ModuleType, decode_bool, encode_execute, encode_is_module_installed
from .hexutil import BytesLike, to_address, to_bytes
from .rpc import NodeClient
from .sessions import decode_use_signature, encode_is_permission_enabled, encode_use_signature, stub_signature
from .user_operation import UserOperation, user_operation_hash

if TYPE_CHECKING:
    from ..signer import Signer

GET_NONCE_SELECTOR = function_signature_to_4byte_selector("getNonce(address,uint192)")  # 0x35567e1a
CREATE_ACCOUNT_SELECTOR = function_signature_to_4byte_selector("createAccount(bytes,bytes32)")
COMPUTE_ACCOUNT_ADDRESS_SELECTOR = function_signature_to_4byte_selector("computeAccountAddress(bytes,bytes32)")
INIT_WITH_DEFAULT_VALIDATOR_SELECTOR = function_signature_to_4byte_selector(
    "initWithDefaultValidatorAndOtherModules(bytes,(address,bytes)[],(address,bytes)[],(address,bytes),"
    "(address,bytes)[],(uint256,address,bytes)[])"
)

# The SDK reduces the user key modulo 2**24 - 1 (not 2**24) before putting it in the 3-byte field.
NONCE_KEY_MODULO = 0xFFFFFF
VALIDATION_MODE_VALIDATE = 0x00
VALIDATION_MODE_MODULE_ENABLE = 0x01

# The Startale default validator's stub signature (the SDK's DUMMY_SIGNATURE), 65 bytes, for gas estimation.
ECDSA_DUMMY_SIGNATURE = bytes.fromhex(
    "81d4b4981670cb18f99f0b4a66446df1bf5b204d24cfcb659bf38ba27a4359b5"
    "711649ec2423c5e1247245eba2964679b6a1dbb85c992ae40b9b00c6935b02ff1b"
)


def nonce_key(validator: str, key: int = 0, mode: int = VALIDATION_MODE_VALIDATE) -> int:
    """The uint192 EntryPoint nonce key: free key (3 bytes) ‖ validation mode (1) ‖ validator (20)."""
    if key < 0:
        raise AAConfigurationError("nonce key must be >= 0")
    if mode not in (0, 1):
        raise AAConfigurationError("validation mode is 0 (validate) or 1 (module enable)")
    return ((key % NONCE_KEY_MODULO) << 168) | (mode << 160) | int.from_bytes(to_bytes(to_address(validator)), "big")


def split_nonce(nonce: int) -> tuple[int, int, str, int]:
    """(free key, validation mode, validator address, sequence) of a full uint256 nonce."""
    return (
        nonce >> 232,
        (nonce >> 224) & 0xFF,
        to_address(((nonce >> 64) & ((1 << 160) - 1)).to_bytes(20, "big")),
        nonce & ((1 << 64) - 1),
    )


def random_nonce_key() -> int:
    """A fresh free key for an op that must not wait for others in flight (its own nonce sequence)."""
    return 1 + secrets.randbelow(NONCE_KEY_MODULO - 1)


@dataclass(frozen=True)
class Validation:
    """How one validator wants a UserOperation signed: its nonce-key address, stub, and signature wrapping."""

    validator: str
    stub: bytes
    permission_id: bytes | None = None  # set for Smart Sessions (USE mode)

    def wrap(self, signature: bytes) -> bytes:
        if self.permission_id is None:
            return signature
        return encode_use_signature(self.permission_id, signature)


class SmartAccount:
    """An ERC-7579 account at ``address`` on the chain ``node`` talks to."""

    flavour: ClassVar[str] = "erc7579"

    def __init__(
        self,
        address: str,
        *,
        node: NodeClient | str | None,
        owner_validator: str,
        owner_stub_signature: BytesLike = ECDSA_DUMMY_SIGNATURE,
        chain_id: int | None = None,
        addresses: AddressBook | None = None,
        factory: str | None = None,
        factory_data: BytesLike = b"",
    ) -> None:
        self.address = to_address(address, "account address")
        self._node = NodeClient(node) if isinstance(node, str) else node
        self._chain_id = chain_id
        self._addresses = addresses
        self.owner_validator = to_address(owner_validator, "owner_validator")
        self.owner_stub_signature = to_bytes(owner_stub_signature, "owner_stub_signature")
        self.factory = to_address(factory, "factory") if factory is not None else None
        self.factory_data = to_bytes(factory_data, "factory_data")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address}, chain_id={self._chain_id})"

    # -- chain facts ---------------------------------------------------------------------------------------
    @property
    def node(self) -> NodeClient:
        if self._node is None:
            raise AAConfigurationError(
                f"{type(self).__name__} {self.address} has no node client", hint="pass node=<RPC URL or NodeClient>"
            )
        return self._node

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.node.chain_id()
        return self._chain_id

    @property
    def addresses(self) -> AddressBook:
        if self._addresses is None:
            self._addresses = addresses_for(self.chain_id)
        return self._addresses

    @property
    def entry_point(self) -> str:
        return self.addresses.entry_point

    def is_deployed(self) -> bool:
        return len(self.node.get_code(self.address)) > 0

    def init_fields(self) -> dict[str, Any]:
        """factory / factory_data for the first op of an undeployed account, else nothing."""
        if self.factory is None or self.is_deployed():
            return {}
        return {"factory": self.factory, "factory_data": self.factory_data}

    # -- nonces --------------------------------------------------------------------------------------------
    def nonce_key(self, validator: str, key: int = 0) -> int:
        return nonce_key(validator, key)

    def get_nonce(self, validator: str | None = None, key: int = 0) -> int:
        """EntryPoint.getNonce(account, key): the full nonce (``key << 64 | sequence``). Errors propagate
        (unlike the SDK, which returns 0 on any RPC error and so sends ops the EntryPoint refuses)."""
        data = self.get_nonce_call(validator, key)
        (nonce,) = decode(["uint256"], self.node.call(self.entry_point, data))
        return int(nonce)

    def get_nonce_call(self, validator: str | None = None, key: int = 0) -> bytes:
        """The EntryPoint.getNonce(account, key) calldata."""
        full_key = self.nonce_key(self.owner_validator if validator is None else validator, key)
        return GET_NONCE_SELECTOR + encode(["address", "uint192"], [self.address, full_key])

    # -- calls ---------------------------------------------------------------------------------------------
    def encode_calls(self, calls: Sequence[Call | dict[str, Any]]) -> bytes:
        return encode_execute(calls)

    def is_module_installed(self, type_id: int, module: str, additional_context: BytesLike = b"") -> bool:
        data = encode_is_module_installed(type_id, module, additional_context)
        return decode_bool(self.node.call(self.address, data))

    def is_smart_sessions_installed(self) -> bool:
        return self.is_module_installed(ModuleType.VALIDATOR, self.addresses.smart_sessions)

    def is_permission_enabled(self, permission_id: BytesLike) -> bool:
        data = encode_is_permission_enabled(permission_id, self.address)
        return decode_bool(self.node.call(self.addresses.smart_sessions, data))

    # -- signing -------------------------------------------------------------------------------------------
    def owner_validation(self) -> Validation:
        return Validation(self.owner_validator, self.owner_stub_signature)

    def session_validation(self, permission_id: BytesLike) -> Validation:
        pid = to_bytes(permission_id, "permission_id", 32)
        return Validation(self.addresses.smart_sessions, stub_signature(pid), pid)

    def user_op_hash(self, op: UserOperation) -> bytes:
        return user_operation_hash(op, self.entry_point, self.chain_id)

    def sign_user_operation(
        self,
        op: UserOperation,
        signer: Signer,
        validation: Validation | None = None,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> UserOperation:
        """``op`` with its signature: EIP-191 over the userOpHash by ``signer``, wrapped for ``validation``.

        For a session op the stub signature is put in place first, so that before_sign policies (the scope
        check) can read the permission id from the op they are shown. ``context`` goes to the policies (e.g.
        ``max_cost_wei``, a per-call cost bound).
        """
        validation = validation or self.owner_validation()
        _, _, validator, _ = split_nonce(op.nonce)
        if validator != validation.validator:
            raise AAConfigurationError(
                f"the op's nonce key selects validator {validator}, but it is being signed for {validation.validator}",
                hint="read the nonce with the same validator you sign for",
            )
        if validation.permission_id is not None:
            op = op.replace(signature=validation.stub)
        signature = signer.sign_user_operation(op, self.entry_point, self.chain_id, context=context)
        return op.replace(signature=validation.wrap(signature.to_bytes()))


def startale_init_data(owner: str, bootstrap: str) -> bytes:
    """The SDK's getInitData with only the default validator: abi.encode(bootstrap, initWithDefaultValidator...)."""
    call = INIT_WITH_DEFAULT_VALIDATOR_SELECTOR + encode(
        [
            "bytes",
            "(address,bytes)[]",
            "(address,bytes)[]",
            "(address,bytes)",
            "(address,bytes)[]",
            "(uint256,address,bytes)[]",
        ],
        [to_bytes(to_address(owner)), [], [], (ZERO_ADDRESS, bytes(32)), [], []],
    )
    return encode(["address", "bytes"], [to_address(bootstrap), call])


def startale_factory_data(owner: str, index: int = 0, bootstrap: str | None = None) -> bytes:
    """AccountFactory.createAccount(initData, bytes32(index)) for an account owned by ``owner``."""
    init_data = startale_init_data(owner, bootstrap or AddressBook().bootstrap)
    return CREATE_ACCOUNT_SELECTOR + encode(["bytes", "bytes32"], [init_data, index.to_bytes(32, "big")])


class StartaleAccount(SmartAccount):
    """The Startale smart account (v1.0.1): owner = the built-in default validator (address 0 in the nonce)."""

    flavour = "startale"

    def __init__(
        self,
        address: str,
        *,
        node: NodeClient | str | None,
        chain_id: int | None = None,
        addresses: AddressBook | None = None,
        factory: str | None = None,
        factory_data: BytesLike = b"",
    ) -> None:
        super().__init__(
            address,
            node=node,
            owner_validator=ZERO_ADDRESS,
            owner_stub_signature=ECDSA_DUMMY_SIGNATURE,
            chain_id=chain_id,
            addresses=addresses,
            factory=factory,
            factory_data=factory_data,
        )

    @classmethod
    def for_owner(
        cls,
        owner: str,
        *,
        node: NodeClient | str,
        index: int = 0,
        chain_id: int | None = None,
        addresses: AddressBook | None = None,
    ) -> StartaleAccount:
        """The (possibly undeployed) account of ``owner``: the address comes from the factory's
        ``computeAccountAddress``; the first op carries the factory data."""
        node_client = NodeClient(node) if isinstance(node, str) else node
        book = addresses or addresses_for(chain_id if chain_id is not None else node_client.chain_id())
        init_data = startale_init_data(owner, book.bootstrap)
        salt = index.to_bytes(32, "big")
        result = node_client.call(
            book.account_factory, COMPUTE_ACCOUNT_ADDRESS_SELECTOR + encode(["bytes", "bytes32"], [init_data, salt])
        )
        (address,) = decode(["address"], result)
        return cls(
            address,
            node=node_client,
            chain_id=chain_id,
            addresses=book,
            factory=book.account_factory,
            factory_data=CREATE_ACCOUNT_SELECTOR + encode(["bytes", "bytes32"], [init_data, salt]),
        )


class NexusAccount(SmartAccount):
    """A Nexus (1.0.1) account whose owner validator is an installed ECDSA (K1-style) module.

    Parametrised by addresses: ``owner_validator`` is that module's address, ``factory`` /
    ``factory_data`` deploy the account on its first op (see chain/README.md for the local chain's values).
    """

    flavour = "nexus"

    def __init__(
        self,
        address: str,
        *,
        node: NodeClient | str | None,
        owner_validator: str,
        owner_stub_signature: BytesLike = ECDSA_DUMMY_SIGNATURE,
        chain_id: int | None = None,
        addresses: AddressBook | None = None,
        factory: str | None = None,
        factory_data: BytesLike = b"",
    ) -> None:
        if to_address(owner_validator) == ZERO_ADDRESS:
            raise AAConfigurationError("a Nexus account has no default validator: pass the installed owner validator")
        super().__init__(
            address,
            node=node,
            owner_validator=owner_validator,
            owner_stub_signature=owner_stub_signature,
            chain_id=chain_id,
            addresses=addresses,
            factory=factory,
            factory_data=factory_data,
        )

    @classmethod
    def for_owner(
        cls,
        owner: str,
        *,
        node: NodeClient | str,
        owner_validator: str,
        bootstrap: str,
        factory: str,
        salt: int = 0,
        chain_id: int | None = None,
        addresses: AddressBook | None = None,
    ) -> NexusAccount:
        """The (possibly undeployed) account of ``owner`` with ``owner_validator`` (K1-style) installed at
        creation; the address comes from the factory's ``computeAccountAddress`` (see chain/README.md)."""
        return _for_owner_nexus(
            cls, owner, node=node, owner_validator=owner_validator, bootstrap=bootstrap, factory=factory,
            salt=salt, chain_id=chain_id, addresses=addresses,
        )  # fmt: skip


INIT_NEXUS_WITH_SINGLE_VALIDATOR_SELECTOR = function_signature_to_4byte_selector(
    "initNexusWithSingleValidator(address,bytes,address,address[],uint8)"
)  # 0x01fe9ff2


def nexus_init_data(owner: str, validator: str, bootstrap: str) -> bytes:
    """Nexus 1.0.1 initData: abi.encode(bootstrap, initNexusWithSingleValidator(validator, owner(20), 0, [], 0))."""
    call = INIT_NEXUS_WITH_SINGLE_VALIDATOR_SELECTOR + encode(
        ["address", "bytes", "address", "address[]", "uint8"],
        [to_address(validator), to_bytes(to_address(owner)), ZERO_ADDRESS, [], 0],
    )
    return encode(["address", "bytes"], [to_address(bootstrap), call])


def nexus_factory_data(owner: str, validator: str, bootstrap: str, salt: int = 0) -> bytes:
    """NexusAccountFactory.createAccount(initData, bytes32(salt))."""
    init_data = nexus_init_data(owner, validator, bootstrap)
    return CREATE_ACCOUNT_SELECTOR + encode(["bytes", "bytes32"], [init_data, salt.to_bytes(32, "big")])


def _for_owner_nexus(
    cls: type[NexusAccount],
    owner: str,
    *,
    node: NodeClient | str,
    owner_validator: str,
    bootstrap: str,
    factory: str,
    salt: int,
    chain_id: int | None,
    addresses: AddressBook | None,
) -> NexusAccount:
    node_client = NodeClient(node) if isinstance(node, str) else node
    init_data = nexus_init_data(owner, owner_validator, bootstrap)
    args = encode(["bytes", "bytes32"], [init_data, salt.to_bytes(32, "big")])
    (address,) = decode(["address"], node_client.call(factory, COMPUTE_ACCOUNT_ADDRESS_SELECTOR + args))
    return cls(
        address,
        node=node_client,
        owner_validator=owner_validator,
        chain_id=chain_id,
        addresses=addresses,
        factory=factory,
        factory_data=CREATE_ACCOUNT_SELECTOR + args,
    )


def permission_id_of(op: UserOperation) -> bytes | None:
    """The permission id of a USE-mode session signature (or stub) in ``op``, else None."""
    try:
        pid, _ = decode_use_signature(op.signature)
    except AAConfigurationError:
        return None
    return pid
