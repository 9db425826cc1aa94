"""SigningPool: worker processes (the multi-core design) return signatures that recover to the key."""

from __future__ import annotations

import pkcs11
import pytest
from eth_hash.auto import keccak
from signers_pkcs11.pool import SigningPool

import signers
from signers import KeyChangedError, KeyNotFoundError, SignatureVerificationError
from tests.fixtures.softhsm import SoftHSMToken


def test_pool_signatures_recover(pkcs11_key_uri: str) -> None:
    address = signers.load_signer(pkcs11_key_uri).address
    digests = [keccak(b"pool %d" % i) for i in range(300)]
    with SigningPool(pkcs11_key_uri, processes=2) as pool:
        assert pool.address == address
        signatures = pool.sign_digests(digests)
        single = pool.sign_digest(digests[0])
    assert len(signatures) == len(digests)
    assert all(s.recover(d) == address for s, d in zip(signatures, digests, strict=True))
    assert single.recover(digests[0]) == address


def test_pool_reports_the_workers_error(softhsm: SoftHSMToken) -> None:
    with pytest.raises(KeyNotFoundError, match="no private key with object='absent'"):
        SigningPool(softhsm.uri(object="absent"), processes=1)


def _re_point(softhsm: SoftHSMToken, label: str) -> str:
    """Delete the key(s) labelled ``label`` and generate another key with the same label; its address."""
    with softhsm.session() as session:
        for obj in session.get_objects({pkcs11.Attribute.LABEL: label}):
            obj.destroy()
    return signers.load_signer(softhsm.generate_key(label)).address


def _by_label(softhsm: SoftHSMToken, prefix: str) -> tuple[str, str]:
    label = softhsm.new_label(prefix)
    uri = softhsm.generate_key(label).split(";id=")[0] + f"?pin-source={softhsm.pin_source}"
    return label, uri


def test_a_worker_that_loads_a_re_pointed_label_is_caught_by_the_parent(softhsm: SoftHSMToken) -> None:
    """A worker that loads the key after object=LABEL was re-pointed signs with the new key and passes its own
    self-check; the parent checks against the pool's key and refuses, naming both addresses."""
    label, uri = _by_label(softhsm, "pool-fresh-worker")
    # one task per worker: every batch runs in a fresh worker that loads the key anew
    with SigningPool(uri, processes=1, max_tasks_per_child=1, batch=1) as pool:
        original = pool.address
        new_address = _re_point(softhsm, label)
        assert new_address != original
        with pytest.raises(KeyChangedError) as raised:
            pool.sign_digests([keccak(b"after re-point %d" % i) for i in range(2)])
    assert original in str(raised.value) and new_address in str(raised.value)
    assert raised.value.expected == original and raised.value.actual == new_address


def test_a_pool_never_returns_a_signature_of_a_re_pointed_key(softhsm: SoftHSMToken) -> None:
    label, uri = _by_label(softhsm, "pool-re-pointed")
    digests = [keccak(b"re-pointed %d" % i) for i in range(40)]
    with SigningPool(uri, processes=2, batch=4) as pool:
        original = pool.address
        assert all(s.recover(d) == original for s, d in zip(pool.sign_digests(digests), digests, strict=True))
        _re_point(softhsm, label)
        for _ in range(3):
            try:
                signatures = pool.sign_digests(digests)
            except SignatureVerificationError as error:  # KeyChangedError, from a worker or from the parent
                assert original in str(error)
                continue
            assert all(s.recover(d) == original for s, d in zip(signatures, digests, strict=True))


def test_threads_sign_at_once_through_the_pool(pkcs11_key_uri: str) -> None:
    """Each call takes an idle worker of its own (the signing service's lane threads do this): 8 threads on 2
    workers, every signature recovers to the key."""
    from concurrent.futures import ThreadPoolExecutor

    with SigningPool(pkcs11_key_uri, processes=2) as pool:

        def work(thread: int) -> bool:
            digests = [keccak(b"thread %d/%d" % (thread, i)) for i in range(25)]
            return all(pool.sign_digest(d).recover(d) == pool.address for d in digests)

        with ThreadPoolExecutor(8) as executor:
            assert all(executor.map(work, range(8)))


def test_a_worker_killed_under_the_pool_breaks_it_and_says_so(pkcs11_key_uri: str) -> None:
    import os
    import signal

    with SigningPool(pkcs11_key_uri, processes=1) as pool:
        digest = keccak(b"before the kill")
        assert pool.sign_digest(digest).recover(digest) == pool.address
        (worker,) = pool._workers
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(5)
        with pytest.raises(signers.BackendUnavailableError, match="worker .* gone") as gone:
            pool.sign_digest(keccak(b"after the kill"))
        assert "start a new SigningPool" in gone.value.hint
        with pytest.raises(signers.BackendUnavailableError, match="broken"):
            pool.sign_digest(keccak(b"and after that"))


def test_a_closed_pool_signs_nothing(pkcs11_key_uri: str) -> None:
    pool = SigningPool(pkcs11_key_uri, processes=1)
    pool.close()
    assert not any(worker.process.is_alive() for worker in pool._workers)
    with pytest.raises(signers.BackendUnavailableError, match="closed"):
        pool.sign_digest(keccak(b"after close"))
