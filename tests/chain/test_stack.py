"""Smoke tests of the local chain stack (chain/stack.py): the canonical EntryPoint, the Alto bundler, a Nexus
account created counterfactually by its first UserOperation, and the real Smart Sessions bytecode working with
this project's session validator and policies."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import function_signature_to_4byte_selector as selector

from tests.chain import userops as u
from tests.fixtures.chain import ChainStack


@pytest.fixture(scope="module")
def rpc(chain_stack: ChainStack) -> u.Rpc:
    return u.Rpc(chain_stack.rpc_url)


@pytest.fixture(scope="module")
def bundler(chain_stack: ChainStack) -> u.Rpc:
    return u.Rpc(chain_stack.bundler_url)


def code_at(rpc: u.Rpc, address: str) -> bytes:
    return bytes.fromhex(rpc("eth_getCode", address, "latest")[2:])


def counter_state(rpc: u.Rpc, counter: str) -> tuple[int, str]:
    (number,) = rpc.call(counter, "number()", [], [], ["uint256"])
    (last,) = rpc.call(counter, "lastCaller()", [], [], ["address"])
    return int(number), last.lower()


def test_entry_point_is_canonical_and_answers_get_nonce(chain_stack: ChainStack, rpc: u.Rpc) -> None:
    assert chain_stack.entry_point == "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
    assert len(code_at(rpc, chain_stack.entry_point)) > 10_000
    key = u.nonce_key(chain_stack.k1_validator, free_key=0xABCDEF)
    # a fresh sender's nonce is key << 64 (sequence 0): the key is part of the value the account receives
    assert u.get_nonce(rpc, chain_stack.entry_point, chain_stack.accounts[0].address, key) == key << 64
    assert int(rpc("eth_chainId"), 16) == chain_stack.chain_id == 31337


def test_bundler_serves_the_entry_point(chain_stack: ChainStack, bundler: u.Rpc) -> None:
    supported = [a.lower() for a in bundler("eth_supportedEntryPoints")]
    assert supported == [chain_stack.entry_point.lower()]
    assert int(bundler("eth_chainId"), 16) == chain_stack.chain_id


def test_services_listen_on_loopback_only(chain_stack: ChainStack) -> None:
    ports = {int(chain_stack.rpc_url.rsplit(":", 1)[1]), int(chain_stack.bundler_url.rsplit(":", 1)[1])}
    listening: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[3] != "0A":  # TCP_LISTEN
                    continue
                host_hex, port_hex = fields[1].split(":")
                if int(port_hex, 16) in ports:
                    listening.setdefault(int(port_hex, 16), set()).add(host_hex)
    assert set(listening) == ports
    # 0100007F is 127.0.0.1 in /proc's little-endian hex; anything else (0.0.0.0, ::) would be exposed
    assert all(hosts == {"0100007F"} for hosts in listening.values()), listening


def test_contracts_are_in_place(chain_stack: ChainStack, rpc: u.Rpc) -> None:
    for address in (
        chain_stack.smart_sessions,
        chain_stack.ownable_validator,
        chain_stack.nexus_implementation,
        chain_stack.nexus_bootstrap,
        chain_stack.nexus_factory,
        chain_stack.k1_validator,
        chain_stack.counter,
        *chain_stack.policies.values(),
    ):
        assert code_at(rpc, address), f"no code at {address}"
    (account_id,) = rpc.call(chain_stack.nexus_implementation, "accountId()", [], [], ["string"])
    assert account_id == "biconomy.nexus.1.0.0"  # what Nexus v1.0.1 reports
    (is_validator,) = rpc.call(chain_stack.smart_sessions, "isModuleType(uint256)", ["uint256"], [1], ["bool"])
    (stateless,) = rpc.call(chain_stack.ownable_validator, "isModuleType(uint256)", ["uint256"], [7], ["bool"])
    assert is_validator and stateless
    # SmartSession admits a policy only if ERC-165 says it has the role's interface
    user_op_iface = selector(
        "checkUserOpPolicy(bytes32,(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes))"
    )
    action_iface = selector("checkAction(bytes32,address,address,uint256,bytes)")
    expected = {
        "sudo": (True, True),
        "time_frame": (True, True),
        "uni_action": (False, True),
        "value_limit": (True, True),
        "usage_limit": (True, True),
    }
    for name, (user_op, action) in expected.items():
        policy = chain_stack.policies[name]
        for iface, want in ((user_op_iface, user_op), (action_iface, action)):
            (got,) = rpc.call(policy, "supportsInterface(bytes4)", ["bytes4"], [iface], ["bool"])
            assert got is want, f"{name} supportsInterface({iface.hex()}) = {got}"


@dataclass(frozen=True)
class CreatedAccount:
    address: str
    owner_key: bytes
    receipt: dict[str, Any]
    user_op_hash: bytes
    signature: bytes
    counter_before: tuple[int, str]


def owner_op(stack: ChainStack, rpc: u.Rpc, bundler: u.Rpc, op: u.UserOp, owner_key: bytes) -> tuple[u.UserOp, bytes]:
    """Gas-estimates `op`, gets its hash from the EntryPoint and signs it EIP-191 with the owner key."""
    op = u.fill_gas(bundler, stack.entry_point, op, u.DUMMY_ECDSA_SIG)
    user_op_hash = u.onchain_user_op_hash(rpc, stack.entry_point, op)
    assert user_op_hash == u.local_user_op_hash(op, stack.entry_point, stack.chain_id)
    return replace(op, signature=u.personal_sign(owner_key, user_op_hash)), user_op_hash


@pytest.fixture(scope="module")
def created_account(chain_stack: ChainStack, rpc: u.Rpc, bundler: u.Rpc) -> CreatedAccount:
    """A Nexus account that does not exist yet, deployed by its first UserOperation (a Counter call)."""
    owner_key = os.urandom(32)
    owner = Account.from_key(owner_key).address
    init_data = u.nexus_init_data(chain_stack.nexus_bootstrap, chain_stack.k1_validator, bytes.fromhex(owner[2:]))
    salt = os.urandom(32)
    account = u.compute_account_address(rpc, chain_stack.nexus_factory, init_data, salt)
    assert code_at(rpc, account) == b""
    rpc.send(chain_stack.accounts[0].address, account, value=10**18)  # prefund: no paymaster here

    key = u.nonce_key(chain_stack.k1_validator)
    op = u.UserOp(
        sender=account,
        nonce=u.get_nonce(rpc, chain_stack.entry_point, account, key),
        call_data=u.execute_single(chain_stack.counter, 0, selector("increment()")),
        factory=chain_stack.nexus_factory,
        factory_data=u.create_account_call(init_data, salt),
    )
    before = counter_state(rpc, chain_stack.counter)
    signed, user_op_hash = owner_op(chain_stack, rpc, bundler, op, owner_key)
    receipt = u.send_user_op(bundler, chain_stack.entry_point, signed)
    return CreatedAccount(account, owner_key, receipt, user_op_hash, signed.signature, before)


def test_first_user_op_deploys_the_account_and_calls_the_counter(
    chain_stack: ChainStack, rpc: u.Rpc, created_account: CreatedAccount
) -> None:
    acct = created_account
    owner = Account.from_key(acct.owner_key).address
    recovered = Account.recover_message(encode_defunct(primitive=acct.user_op_hash), signature=acct.signature)
    assert recovered == owner and acct.signature[64] in (27, 28)
    assert acct.receipt["success"] is True
    assert acct.receipt["userOpHash"] == "0x" + acct.user_op_hash.hex()
    assert acct.receipt["sender"].lower() == acct.address.lower()
    assert int(acct.receipt["receipt"]["status"], 16) == 1
    assert code_at(rpc, acct.address), "the factory did not deploy the account"
    number_before, _ = acct.counter_before
    number, last = counter_state(rpc, chain_stack.counter)
    assert number == number_before + 1 and last == acct.address.lower()
    (stored_owner,) = rpc.call(chain_stack.k1_validator, "owners(address)", ["address"], [acct.address], ["address"])
    assert stored_owner == owner.lower()
    (installed,) = rpc.call(
        acct.address,
        "isModuleInstalled(uint256,address,bytes)",
        ["uint256", "address", "bytes"],
        [1, chain_stack.k1_validator, b""],
        ["bool"],
    )
    assert installed


def test_a_wrong_owner_signature_is_refused(
    chain_stack: ChainStack, rpc: u.Rpc, bundler: u.Rpc, created_account: CreatedAccount
) -> None:
    key = u.nonce_key(chain_stack.k1_validator)
    op = u.UserOp(
        sender=created_account.address,
        nonce=u.get_nonce(rpc, chain_stack.entry_point, created_account.address, key),
        call_data=u.execute_single(chain_stack.counter, 0, selector("increment()")),
    )
    signed, _ = owner_op(chain_stack, rpc, bundler, op, os.urandom(32))
    with pytest.raises(u.RpcError, match="AA24"):
        bundler("eth_sendUserOperation", signed.to_rpc(), chain_stack.entry_point)


def test_smart_sessions_install_grant_and_session_use(
    chain_stack: ChainStack, rpc: u.Rpc, bundler: u.Rpc, created_account: CreatedAccount
) -> None:
    """Owner installs Smart Sessions and grants Counter.increment() to a session key (TimeFrame + Sudo + a usage
    limit of 1); the session key alone then increments; a second use and an ungranted selector are refused."""
    stack, account, owner_key = chain_stack, created_account.address, created_account.owner_key
    k1_key = u.nonce_key(stack.k1_validator)

    def run_owner(call_data: bytes) -> dict[str, Any]:
        op = u.UserOp(account, u.get_nonce(rpc, stack.entry_point, account, k1_key), call_data)
        signed, _ = owner_op(stack, rpc, bundler, op, owner_key)
        receipt = u.send_user_op(bundler, stack.entry_point, signed)
        assert receipt["success"] is True, receipt
        return receipt

    install = selector("installModule(uint256,address,bytes)") + encode(
        ["uint256", "address", "bytes"], [1, stack.smart_sessions, b""]
    )
    run_owner(u.execute_single(account, 0, install))
    (installed,) = rpc.call(
        account, "isModuleInstalled(uint256,address,bytes)", ["uint256", "address", "bytes"],
        [1, stack.smart_sessions, b""], ["bool"],
    )  # fmt: skip
    assert installed

    session_key = os.urandom(32)
    session_addr = Account.from_key(session_key).address
    now = int(rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    time_frame = (now + 3600).to_bytes(6, "big") + (0).to_bytes(6, "big")  # uint48 validUntil || validAfter
    validator_init = encode(["uint256", "address[]"], [1, [session_addr]])
    salt = os.urandom(32)
    increment = selector("increment()")
    session = u.session_tuple(
        stack.ownable_validator,
        validator_init,
        salt,
        user_op_policies=[(stack.policies["time_frame"], time_frame)],
        actions=[
            (
                increment,
                stack.counter,
                [
                    (stack.policies["time_frame"], time_frame),
                    (stack.policies["sudo"], b""),
                    (stack.policies["usage_limit"], (1).to_bytes(16, "big")),
                ],
            )
        ],
    )
    enable = u.enable_sessions_call([session])
    assert enable[:4].hex() == "21712407"
    run_owner(u.execute_single(stack.smart_sessions, 0, enable))
    pid = u.permission_id(stack.ownable_validator, validator_init, salt)
    (enabled,) = rpc.call(
        stack.smart_sessions, "isPermissionEnabled(bytes32,address)", ["bytes32", "address"], [pid, account], ["bool"]
    )
    assert enabled

    ss_key = u.nonce_key(stack.smart_sessions)

    def session_op(call: bytes) -> u.UserOp:
        op = u.UserOp(
            account, u.get_nonce(rpc, stack.entry_point, account, ss_key), u.execute_single(stack.counter, 0, call)
        )
        stub = u.session_signature(pid, u.DUMMY_ECDSA_SIG)
        op = u.fill_gas(bundler, stack.entry_point, op, stub)
        h = u.onchain_user_op_hash(rpc, stack.entry_point, op)
        return replace(op, signature=u.session_signature(pid, u.personal_sign(session_key, h)))

    number_before, _ = counter_state(rpc, stack.counter)
    signed = session_op(increment)
    assert len(signed.signature) == 98
    receipt = u.send_user_op(bundler, stack.entry_point, signed)
    assert receipt["success"] is True
    number_after, last = counter_state(rpc, stack.counter)
    assert number_after == number_before + 1 and last == account.lower()

    # the usage limit (1) is spent: refused in validation (estimation reverts AA23/AA24)
    with pytest.raises(u.RpcError, match="AA2"):
        session_op(increment)
    # setNumber was never granted: SmartSession finds no policy for that action
    with pytest.raises(u.RpcError, match="AA2"):
        session_op(selector("setNumber(uint256)") + encode(["uint256"], [7]))
    assert counter_state(rpc, stack.counter)[0] == number_after


def test_stack_start_is_idempotent(chain_stack: ChainStack) -> None:
    from chain import stack

    deployment, started_here = stack.start()
    assert started_here is False
    assert deployment["entry_point"] == chain_stack.entry_point
    assert (deployment["rpc_url"], deployment["bundler_url"]) == (chain_stack.rpc_url, chain_stack.bundler_url)


def test_init_data_matches_the_bootstraps_own_encoding(chain_stack: ChainStack, rpc: u.Rpc) -> None:
    owner = bytes.fromhex(chain_stack.accounts[0].address[2:])
    (theirs,) = rpc.call(
        chain_stack.nexus_bootstrap,
        "getInitNexusWithSingleValidatorCalldata((address,bytes),address,address[],uint8)",
        ["(address,bytes)", "address", "address[]", "uint8"],
        [(chain_stack.k1_validator, owner), "0x" + "00" * 20, [], 0],
        ["bytes"],
    )
    assert u.nexus_init_data(chain_stack.nexus_bootstrap, chain_stack.k1_validator, owner) == theirs


def test_validator_zero_in_the_nonce_is_refused_on_nexus(
    chain_stack: ChainStack, rpc: u.Rpc, bundler: u.Rpc, created_account: CreatedAccount
) -> None:
    """Startale's default validator (address 0 in the nonce key) does not exist on Nexus."""
    key = u.nonce_key("0x" + "00" * 20)
    op = u.UserOp(
        sender=created_account.address,
        nonce=u.get_nonce(rpc, chain_stack.entry_point, created_account.address, key),
        call_data=u.execute_single(chain_stack.counter, 0, selector("increment()")),
    )
    with pytest.raises(u.RpcError, match="AA23"):
        owner_op(chain_stack, rpc, bundler, op, created_account.owner_key)
