"""signers.aa against the real Startale SDK (@startale-scs/aa-sdk 1.1.0, module-sdk 0.4.0, viem), byte for byte,
over random inputs. Each test sends one batch to one Node process (tests/sdk/crosscheck.mjs)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from eth_abi import encode

from signers.aa import (
    CANONICAL,
    MODE_BATCH,
    MODE_SINGLE,
    OWNABLE_MOCK_SIGNATURE,
    Call,
    ModuleType,
    StartaleAccount,
    UserOperation,
    encode_execute,
    encode_execute_batch,
    encode_execute_single,
    encode_install_module,
    encode_remove_session,
    encode_use_signature,
    permission_id,
    prepare_sessions,
    smart_sessions_init_data,
    split_nonce,
    startale_factory_data,
    stub_signature,
    user_operation_hash,
)
from signers.aa.accounts import ECDSA_DUMMY_SIGNATURE, GET_NONCE_SELECTOR
from signers.hashing import personal_sign_hash
from signers.signature import Signature

from . import gen

Runner = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
BATCH = 40


def same(ours: bytes | str, theirs: str) -> None:
    """Hex equality, case-insensitive (viem keeps the case of addresses it concatenates)."""
    mine = ours if isinstance(ours, str) else "0x" + ours.hex()
    assert mine.lower() == theirs.lower()


def test_constants_match_the_sdk(sdk: Runner) -> None:
    (result,) = sdk([{"kind": "constants"}])
    assert result["smartSessions"] == CANONICAL.smart_sessions
    assert result["ownableValidator"].lower() == CANONICAL.ownable_validator.lower()
    assert result["entryPoint"] == CANONICAL.entry_point


def test_sessions_permission_ids_enable_and_grant_calldata(sdk: Runner, rng: random.Random) -> None:
    cases, expected = [], []
    for _ in range(BATCH):
        pairs = [gen.session_params(rng) for _ in range(rng.randint(1, 3))]
        chain_id = rng.choice([1, 1946, 1868, 31337, rng.randint(1, 2**32)])
        with_paymaster = rng.random() < 0.5
        account = gen.address(rng)
        cases.append({
            "kind": "sessions", "chainId": chain_id, "account": account, "withPaymaster": with_paymaster,
            "sessions": [js for _, js in pairs],
        })  # fmt: skip
        expected.append(prepare_sessions([py for py, _ in pairs], chain_id=chain_id, with_paymaster=with_paymaster))
    for prepared, result in zip(expected, sdk(cases), strict=True):
        assert ["0x" + p.hex() for p in prepared.permission_ids] == [p.lower() for p in result["permissionIds"]]
        assert result["moduleSdkPermissionIds"] == result["permissionIds"]
        assert [permission_id(s) for s in prepared.sessions] == list(prepared.permission_ids)
        assert prepared.call.to == result["actionTarget"]
        same(prepared.call.data, result["enableSessionsCallData"])
        assert result["grantCalls"] == 1
        same(encode_execute([prepared.call]), result["grantCallData"])
        assert [p.lower() for p in result["grantPermissionIds"]] == [p.lower() for p in result["permissionIds"]]


def test_install_calldata(sdk: Runner, rng: random.Random) -> None:
    cases, expected = [], []
    for i in range(BATCH // 2):
        account = gen.address(rng)
        case: dict[str, Any] = {"kind": "install", "chainId": 1, "account": account}
        sessions: tuple[Any, ...] = ()
        use_registry = rng.random() < 0.5
        if i % 2:  # sessions enabled at install time (module-sdk's getSmartSessionsValidator({sessions}))
            pairs = [gen.session_params(rng) for _ in range(rng.randint(1, 2))]
            case.update(sessions=[js for _, js in pairs], useRegistry=use_registry, withPaymaster=False)
            sessions = prepare_sessions([py for py, _ in pairs], chain_id=1).sessions
        cases.append(case)
        init_data = smart_sessions_init_data(sessions, use_registry=use_registry)
        call = Call(account, 0, encode_install_module(ModuleType.VALIDATOR, CANONICAL.smart_sessions, init_data))
        expected.append((init_data, encode_execute([call])))
    for (init_data, call_data), result in zip(expected, sdk(cases), strict=True):
        same(init_data, result["initData"])
        assert result["calls"] == 1
        same(call_data, result["installCallData"])


def test_revoke_calldata(sdk: Runner, rng: random.Random) -> None:
    pids = [gen.rbytes(rng, 32) for _ in range(BATCH // 2)]
    accounts = [gen.address(rng) for _ in pids]
    cases = [
        {"kind": "revoke", "chainId": 1, "account": a, "permissionId": gen.hexs(p)}
        for a, p in zip(accounts, pids, strict=True)
    ]
    for pid, result in zip(pids, sdk(cases), strict=True):
        assert result["target"] == CANONICAL.smart_sessions
        same(encode_remove_session(pid), result["removeSessionCallData"])
        same(encode_execute([Call(CANONICAL.smart_sessions, 0, encode_remove_session(pid))]), result["revokeCallData"])


def test_execute_single_and_batch(sdk: Runner, rng: random.Random) -> None:
    cases, expected = [], []
    for _ in range(BATCH):
        py_calls, js_calls = gen.calls(rng, rng.choice([1, 1, 2, 3, 7]))
        cases.append({"kind": "execute", "chainId": 1, "account": gen.address(rng), "calls": js_calls})
        expected.append(py_calls)
    for py_calls, result in zip(expected, sdk(cases), strict=True):
        same(encode_execute(py_calls), result["callData"])
        same(encode_execute_single(py_calls[0]), result["executeSingle"])
        same(encode_execute_batch(py_calls), result["executeBatch"])
        same(MODE_SINGLE, result["modeSingle"])
        same(MODE_BATCH, result["modeBatch"])


def test_user_operation_hash_rpc_and_packed_forms(sdk: Runner, rng: random.Random) -> None:
    cases, expected = [], []
    for _ in range(BATCH * 2):
        op, js = gen.user_operation(rng)
        chain_id = rng.choice([1, 1946, 31337, rng.randint(1, 2**52)])  # a JSON number in JS
        cases.append({"kind": "userop", "chainId": chain_id, "userOperation": js})
        expected.append((op, chain_id))
    for (op, chain_id), result in zip(expected, sdk(cases), strict=True):
        same(user_operation_hash(op, CANONICAL.entry_point, chain_id), result["hash"])
        assert op.to_rpc() == result["rpc"]
        assert UserOperation.from_rpc(op.to_rpc()) == op
        packed = op.packed()
        theirs = result["packed"]
        same(packed.init_code, theirs["initCode"])
        same(packed.account_gas_limits, theirs["accountGasLimits"])
        same(packed.gas_fees, theirs["gasFees"])
        same(packed.paymaster_and_data, theirs["paymasterAndData"])
        same(packed.call_data, theirs["callData"])
        assert packed.nonce == int(theirs["nonce"], 16)
        assert packed.pre_verification_gas == int(theirs["preVerificationGas"], 16)


def test_nonce_keys_stubs_and_signatures(sdk: Runner, rng: random.Random, make_signer: Any) -> None:
    """Owner (default validator) and session (USE mode) signatures, stubs, nonce keys and getNonce calldata."""
    cases, expected = [], []
    for _ in range(BATCH // 2):
        key = gen.private_key(rng)
        account = StartaleAccount(gen.address(rng), node=None, chain_id=rng.choice([1, 1946, 31337]))
        pid = gen.rbytes(rng, 32)
        user_key = rng.choice([0, 1, 0xFFFFFE, 0xFFFFFF, 0x1000000, rng.getrandbits(42)])  # Date.now()-sized too
        sequence = rng.getrandbits(64)
        owner_nonce = account.nonce_key(account.owner_validator, user_key) << 64 | sequence
        session_nonce = account.nonce_key(CANONICAL.smart_sessions, user_key) << 64 | sequence
        owner_op, owner_js = gen.user_operation(rng, sender=account.address, nonce=owner_nonce)
        session_op, session_js = gen.user_operation(rng, sender=account.address, nonce=session_nonce)
        cases.append({
            "kind": "sign", "chainId": account.chain_id, "account": account.address, "privateKey": gen.hexs(key),
            "permissionId": gen.hexs(pid), "key": str(user_key), "sequence": str(sequence),
            "userOperation": owner_js, "sessionUserOperation": session_js,
        })  # fmt: skip
        expected.append((key, account, pid, user_key, owner_op, session_op))
    for (key, account, pid, user_key, owner_op, session_op), result in zip(expected, sdk(cases), strict=True):
        signer = make_signer(key)
        assert int(result["ownerNonce"], 16) == owner_op.nonce
        assert int(result["sessionNonce"], 16) == session_op.nonce
        assert split_nonce(session_op.nonce)[2] == CANONICAL.smart_sessions
        assert result["nonceCalls"] == [
            "0x" + account.get_nonce_call(account.owner_validator, user_key).hex(),
            "0x" + account.get_nonce_call(CANONICAL.smart_sessions, user_key).hex(),
        ]
        assert account.get_nonce_call()[:4] == GET_NONCE_SELECTOR
        same(ECDSA_DUMMY_SIGNATURE, result["ownerStub"])
        same(stub_signature(pid), result["sessionStub"])
        same(encode_use_signature(pid, OWNABLE_MOCK_SIGNATURE), result["useEncoding"])
        same(account.user_op_hash(owner_op), result["userOpHash"])
        same(account.user_op_hash(session_op), result["sessionUserOpHash"])

        signed = account.sign_user_operation(owner_op, signer)
        same(signed.signature, result["ownerSignature"])
        digest = personal_sign_hash(account.user_op_hash(owner_op))
        assert Signature.from_bytes(signed.signature).recover(digest) == signer.address

        signed = account.sign_user_operation(session_op, signer, account.session_validation(pid))
        same(signed.signature, result["sessionSignature"])
        assert len(signed.signature) == 98 and signed.signature[:33] == b"\x00" + pid
        digest = personal_sign_hash(account.user_op_hash(session_op))
        assert Signature.from_bytes(signed.signature[33:]).recover(digest) == signer.address


def test_factory_data(sdk: Runner, rng: random.Random) -> None:
    cases, expected = [], []
    for _ in range(BATCH // 4):
        key = gen.private_key(rng)
        index = rng.choice([0, 1, rng.getrandbits(64)])
        cases.append(
            {
                "kind": "factory",
                "chainId": 1,
                "account": gen.address(rng),
                "privateKey": gen.hexs(key),
                "index": str(index),
            }
        )
        expected.append(startale_factory_data(gen.key_address(key), index))
    for data, result in zip(expected, sdk(cases), strict=True):
        assert result["factory"] == CANONICAL.account_factory
        same(data, result["factoryData"])
        same(bytes.fromhex(CANONICAL.account_factory[2:]) + data, result["initCode"])


def test_abi_encoding_is_the_session_tuple(rng: random.Random) -> None:
    """enableSessions' argument decodes back to the sessions (a check independent of the SDK)."""
    from eth_abi import decode

    from signers.aa.sessions import SESSION_ABI

    params, _ = gen.session_params(rng)
    prepared = prepare_sessions([params], chain_id=1)
    (decoded,) = decode([SESSION_ABI + "[]"], prepared.call.data[4:])
    assert encode([SESSION_ABI + "[]"], [decoded]) == prepared.call.data[4:]
    assert decoded[0][2] == params.salt
