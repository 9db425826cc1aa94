"""SigningPool: worker processes (the multi-core design) return signatures that recover to the key."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak
from signers_pkcs11.pool import SigningPool

import signers
from signers import KeyNotFoundError
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
