"""Many threads on one or many HSM signers: no crash, every signature valid (see signers_pkcs11.module)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from eth_hash.auto import keccak
from signers_pkcs11.module import get_module

import signers
from tests.fixtures.softhsm import SoftHSMToken

THREADS = 8
PER_THREAD = 500


def test_8_threads_x_500_signatures_all_valid(softhsm: SoftHSMToken) -> None:
    uris = [softhsm.generate_key() for _ in range(3)]
    # one signer shared by several threads, and two Signer objects over the same key
    pool = [
        signers.load_signer(uris[0]),
        signers.load_signer(uris[1]),
        signers.load_signer(uris[2]),
        signers.load_signer(uris[0]),
    ]

    def work(thread: int) -> int:
        signer = pool[thread % len(pool)]
        valid = 0
        for i in range(PER_THREAD):
            digest = keccak(b"%d/%d" % (thread, i))
            if signer.sign_digest(digest).recover(digest) == signer.address:
                valid += 1
        return valid

    with ThreadPoolExecutor(THREADS) as executor:
        counts = list(executor.map(work, range(THREADS)))
    assert counts == [PER_THREAD] * THREADS


def test_threads_survive_library_reinitialisation(softhsm: SoftHSMToken) -> None:
    """Re-initialising the module (through its lock) while threads sign: sessions are reopened under them."""
    signer = signers.load_signer(softhsm.generate_key())
    module = get_module(softhsm.module)
    stop = threading.Event()
    results: list[bool] = []

    def work(thread: int) -> None:
        i = 0
        while not stop.is_set() and i < 400:
            digest = keccak(b"r%d/%d" % (thread, i))
            results.append(signer.sign_digest(digest).recover(digest) == signer.address)
            i += 1

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for _ in range(5):
        module.reinitialize()
    for t in threads:
        t.join()
    assert len(results) == 1600 and all(results)
