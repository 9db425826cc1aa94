"""The session-op hot path's shortcuts give what the long way gave: the pooled keccak states (against eth-hash,
from many threads at once), the key's x kept for the self-check, the shared factor of the self-check's scalars
(against coincurve's own recoverable signatures, both parities, high-s included)."""

from __future__ import annotations

import os
import threading

import coincurve
from eth_hash.auto import keccak as eth_keccak
from hypothesis import given
from hypothesis import strategies as st

from signers import keccak as keccak_module
from signers.keccak import keccak
from signers.keys import PublicKey
from signers.signature import HALF_N, N, Signature


@given(st.binary(max_size=300))
def test_keccak_of_bytearray_and_memoryview_is_eth_hash(data: bytes) -> None:
    expected = eth_keccak(data)
    assert keccak(bytearray(data)) == expected
    assert keccak(memoryview(data)) == expected
    assert keccak(memoryview(b"\x00" + data)[1:]) == expected  # a view that does not start at its buffer's start


def test_keccak_from_many_threads_at_once_is_eth_hash() -> None:
    """Each thread hashes its own inputs while the others hash theirs: a state shared by two callers would mix
    their absorbed bytes and give a wrong digest somewhere."""
    inputs = [[os.urandom(n % 400) for n in range(i, i + 300)] for i in range(8)]
    expected = [[eth_keccak(data) for data in batch] for batch in inputs]
    results: list[list[bytes]] = [[] for _ in inputs]
    start = threading.Barrier(len(inputs))

    def work(i: int) -> None:
        start.wait()
        for _ in range(20):
            results[i] = [keccak(data) for data in inputs[i]]

    pooled_before = len(keccak_module._pool)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected
    # states are reused, not allocated per hash: at most one more per thread that hashed at the same time
    assert 1 <= len(keccak_module._pool) <= pooled_before + len(inputs)


@given(st.binary(min_size=32, max_size=32))
def test_public_key_x_is_the_points_x(secret: bytes) -> None:
    if not 0 < int.from_bytes(secret, "big") < N:
        return
    point = coincurve.PrivateKey(secret).public_key
    for form in (point.format(compressed=False), point.format(compressed=True)):
        key = PublicKey(form)
        assert key.x == int.from_bytes(point.format(compressed=False)[1:33], "big")


def test_self_check_gives_coincurves_recovery_id_for_low_and_high_s() -> None:
    """coincurve's sign_recoverable is the independent source of (r, s, recid); the high-s twin (n - s, same r)
    must come back as the same low-s signature with the same v."""
    parities = set()
    for _ in range(64):
        private = coincurve.PrivateKey()
        key = PublicKey(private.public_key.format(compressed=False))
        digest = os.urandom(32)
        raw = private.sign_recoverable(digest, hasher=None)
        r, s, recid = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
        assert s <= HALF_N
        for given_s in (s, N - s):
            signature = Signature.from_rs(r.to_bytes(32, "big") + given_s.to_bytes(32, "big"), digest, key)
            assert (signature.r, signature.s, signature.v) == (r, s, 27 + recid)
            assert signature.recover(digest) == key.address
        parities.add(recid)
    assert parities == {0, 1}


@given(st.one_of(st.binary(max_size=300), st.text(max_size=100)))
def test_personal_messages_are_what_eth_account_encodes(message: bytes | str) -> None:
    from eth_account.messages import encode_defunct

    from signers.hashing import as_signable

    expected = encode_defunct(primitive=message) if isinstance(message, bytes) else encode_defunct(text=message)
    assert as_signable(message) == expected
    if isinstance(message, bytes):
        assert as_signable(bytearray(message)) == expected
