"""ENABLE mode against the real SDK (module-sdk 0.4.0 and solady-js under Node, offline), byte for byte, over
random inputs: the FastLZ compression, the MultiChainSession hash the owner signs, and the whole ENABLE-mode
signature (compressed EnableSession with the validator-prefixed owner signature). Plus HashLib's typehash
constants as the independent source for the EIP-712 types."""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import replace
from typing import Any

import pytest
from eth_hash.auto import keccak

from signers.aa import CANONICAL, SmartSessionMode, prepare_sessions
from signers.aa.enable import (
    CHAIN_SESSION_TYPEHASH,
    EIP712_TYPES,
    MULTICHAIN_DOMAIN_SEPARATOR,
    MULTICHAIN_SESSION_TYPEHASH,
    ChainDigest,
    EnableGrant,
    decode_enable_signature,
    encode_enable_signature,
    multichain_digest,
    multichain_typed_data,
    session_digest,
    signed_session,
)
from signers.aa.errors import AAConfigurationError
from signers.aa.fastlz import compress, decompress
from signers.aa.sessions import ActionData, ERC7739Context, ERC7739Data, PolicyData, Session
from signers.hashing import eip191_hash, typed_data_message

from . import gen, sdk_harness

BATCH = 40


def run(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One Node process (tests/sdk/enable_crosscheck.mjs) for the batch; results in case order."""
    proc = subprocess.run(
        ["node", "enable_crosscheck.mjs"],
        cwd=sdk_harness.SDK_DIR,
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"enable_crosscheck.mjs failed ({proc.returncode}):\n{proc.stderr}"
    results: list[dict[str, Any]] = json.loads(proc.stdout)["results"]
    assert len(results) == len(cases)
    for case, result in zip(cases, results, strict=True):
        assert "error" not in result, f"the SDK failed on a {case['kind']} case: {result['error']}"
    return results


@pytest.fixture(scope="module")
def sdk() -> Any:
    sdk_harness.install()
    return run


def data_of(rng: random.Random) -> bytes:
    """Bytes that compress in every way: ABI-like zero runs, 0xff runs, repeats near and far, noise."""
    size = rng.choice([0, 1, 2, 5, 13, 16, 17, 31, 64, rng.randint(0, 600), rng.randint(600, 9000)])
    out = bytearray()
    while len(out) < size:
        kind = rng.random()
        if kind < 0.3:
            out += bytes(rng.randint(1, 300))
        elif kind < 0.4:
            out += b"\xff" * rng.randint(1, 40)
        elif kind < 0.7 and out:
            start = rng.randrange(len(out))
            out += out[start : start + rng.randint(3, 400)]
        else:
            out += gen.rbytes(rng, rng.randint(1, 64))
    return bytes(out[:size])


def test_fastlz_is_solady_byte_for_byte(sdk: Any, rng: random.Random) -> None:
    datas = [data_of(rng) for _ in range(BATCH * 3)]
    ours = [compress(d) for d in datas]
    results = sdk(
        [{"kind": "flz", "data": gen.hexs(d), "compressed": gen.hexs(c)} for d, c in zip(datas, ours, strict=True)]
    )
    for data, mine, theirs in zip(datas, ours, results, strict=True):
        assert gen.hexs(mine) == theirs["compressed"]
        assert theirs["decompressed"] == gen.hexs(data)  # solady-js reads ours back
        assert decompress(mine) == data


def test_fastlz_decompress_refuses_malformed_streams() -> None:
    with pytest.raises(AAConfigurationError, match="cut short"):
        decompress(bytes([5, 1, 2]))  # a literal run of 6 with 2 bytes
    with pytest.raises(AAConfigurationError, match="before the start"):
        decompress(bytes([0, 7, 0x20, 0x05]))  # a match 6 bytes back after 1 byte of output
    with pytest.raises(AAConfigurationError, match="larger than"):
        decompress(bytes([0, 0]) + bytes([0xE0, 0xFF, 0x00]) * 10, max_size=1000)


def test_typehashes_are_hashlibs() -> None:
    """The EIP-712 types here, encoded as EIP-712 says, hash to SmartSession's HashLib constants."""

    def encode_type(name: str) -> str:
        deps: set[str] = set()

        def walk(t: str) -> None:
            for field in EIP712_TYPES[t]:
                base = field["type"].rstrip("[]")
                if base in EIP712_TYPES and base not in deps:
                    deps.add(base)
                    walk(base)

        walk(name)
        deps.discard(name)

        def one(t: str) -> str:
            return t + "(" + ",".join(f"{f['type']} {f['name']}" for f in EIP712_TYPES[t]) + ")"

        return one(name) + "".join(one(d) for d in sorted(deps))

    assert keccak(encode_type("ChainSession").encode()) == CHAIN_SESSION_TYPEHASH
    assert keccak(encode_type("MultiChainSession").encode()) == MULTICHAIN_SESSION_TYPEHASH
    # HashLib.SESSION_TYPEHASH, written there as a literal
    assert keccak(encode_type("SignedSession").encode()).hex() == (
        "d44896e3cb83d70abc949a38dd6f9f75e675dc329dfe958617f066f79ff88f05"
    )
    domain = keccak(keccak(b"EIP712Domain(string name,string version)") + keccak(b"SmartSession") + keccak(b"1"))
    assert domain == MULTICHAIN_DOMAIN_SEPARATOR


def random_session(rng: random.Random, fallback: bytes | None = None) -> Session:
    params, _ = gen.session_params(rng)
    (session,) = prepare_sessions(params, chain_id=1).sessions
    if rng.random() < 0.3:  # ERC-7739 content and ERC-1271 policies: part of the signed permissions
        session = replace(
            session,
            erc7739_policies=ERC7739Data(
                tuple(
                    ERC7739Context(gen.rbytes(rng, 32), tuple(gen.hexs(gen.rbytes(rng, 3)) for _ in range(2)))
                    for _ in range(rng.randint(0, 2))
                ),
                tuple(PolicyData(gen.address(rng), gen.rbytes(rng, rng.randint(0, 40))) for _ in range(2)),
            ),
        )
    if fallback is not None:  # a fallback action sets permitGenericPolicy (0x00000001) / permitAdminAccess (0x…02)
        action = ActionData(fallback, "0x0000000000000000000000000000000000000001", (PolicyData(gen.address(rng)),))
        session = replace(session, actions=(*session.actions, action))
    return replace(session, permit_erc4337_paymaster=rng.random() < 0.5)


def test_enable_signature_and_hash_match_the_sdk(sdk: Any, rng: random.Random) -> None:
    cases, grants, expected_hashes = [], [], []
    for _ in range(BATCH):
        mode = rng.choice([SmartSessionMode.ENABLE, SmartSessionMode.UNSAFE_ENABLE])
        account, smart_session = gen.address(rng), CANONICAL.smart_sessions
        # the SDK takes one set of fallback flags for all the sessions of a case: one fallback choice per case
        fallback = rng.choice([None, None, b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"])
        sessions = [random_session(rng, fallback) for _ in range(rng.randint(1, 3))]
        chain_ids = [rng.choice([1, 10, 8453, 1946, 31337, (1 << 64) - 1]) for _ in sessions]
        nonces = [rng.choice([0, 1, rng.getrandbits(64), rng.getrandbits(256)]) for _ in sessions]
        digests = [session_digest(s, account, smart_session, n, mode) for s, n in zip(sessions, nonces, strict=True)]
        index = rng.randrange(len(sessions))
        validator = gen.address(rng)
        owner_sig, session_sig = gen.rbytes(rng, 65), gen.rbytes(rng, rng.choice([65, 65, 130]))
        chain_digests = tuple(ChainDigest(c, d) for c, d in zip(chain_ids, digests, strict=True))
        grant = EnableGrant(
            account, sessions[index], chain_digests, index, validator, gen.address(rng), owner_sig, nonces[index], mode
        )
        messages = [signed_session(s, account, smart_session, n, mode) for s, n in zip(sessions, nonces, strict=True)]
        typed = multichain_typed_data(list(zip(chain_ids, messages, strict=True)))
        expected_hashes.append(eip191_hash(typed_data_message(full_message=typed)))
        assert multichain_digest(chain_digests) == expected_hashes[-1] == grant.signed_hash
        permissions = messages[0]["permissions"]
        grants.append((grant, session_sig))
        cases.append(
            {
                "kind": "enable",
                "sessions": [s.to_dict() for s in sessions],
                "account": account,
                "chainIds": [str(c) for c in chain_ids],
                "nonces": [str(n) for n in nonces],
                "digests": [gen.hexs(d) for d in digests],
                "smartSession": smart_session,
                "mode": f"0x{int(mode):02x}",
                "sessionIndex": index,
                "validator": validator,
                "ownerSignature": gen.hexs(owner_sig),
                "sessionSignature": gen.hexs(session_sig),
                "permitGenericPolicy": permissions["permitGenericPolicy"],
                "permitAdminAccess": permissions["permitAdminAccess"],
                "ignoreSecurityAttestations": mode == SmartSessionMode.UNSAFE_ENABLE,
            }
        )
    for (grant, session_sig), expected_hash, theirs in zip(grants, expected_hashes, sdk(cases), strict=True):
        assert theirs["permissionEnableHash"] == theirs["chainSessionsHash"] == gen.hexs(expected_hash)
        assert theirs["permissionId"] == gen.hexs(grant.permission_id)
        ours = encode_enable_signature(grant, session_sig)
        assert gen.hexs(ours) == theirs["signature"].lower()
        decoded = decode_enable_signature(theirs["signature"])
        assert decoded.session == grant.session and decoded.chain_digests == grant.chain_digests
        assert decoded.permission_enable_sig == grant.permission_enable_sig
        assert decoded.session_signature == session_sig and decoded.mode == grant.mode
        assert theirs["decoded"]["permissionId"] == gen.hexs(grant.permission_id)
        assert theirs["decoded"]["validator"].lower() == grant.validator.lower()
        assert theirs["decoded"]["permissionEnableSig"] == gen.hexs(grant.owner_signature)


def test_decode_refuses_what_is_not_enable_data(rng: random.Random) -> None:
    with pytest.raises(AAConfigurationError, match="not a Smart Sessions ENABLE-mode"):
        decode_enable_signature(b"\x00" + bytes(97))
    with pytest.raises(AAConfigurationError):
        decode_enable_signature(b"\x01" + compress(gen.rbytes(rng, 200)))


def test_grant_round_trips_through_json(rng: random.Random) -> None:
    session = random_session(rng)
    grant = EnableGrant(
        gen.address(rng),
        session,
        (ChainDigest(31337, gen.rbytes(rng, 32)),),
        0,
        gen.address(rng),
        gen.address(rng),
        gen.rbytes(rng, 65),
        7,
        SmartSessionMode.UNSAFE_ENABLE,
    )
    again = EnableGrant.from_dict(json.loads(json.dumps(grant.to_dict())))
    assert again == grant
    assert encode_enable_signature(again, b"\x01" * 65) == encode_enable_signature(grant, b"\x01" * 65)
