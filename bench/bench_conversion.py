"""The core's DER -> Ethereum conversion against its floor, one bare coincurve recovery.

One recovery is the least any correct conversion can cost: finding the recovery id and checking that the
signature is the key's both need it. Inputs are real KMS-like signatures: random nonces from `cryptography`,
about half high-s. Target: ratio <= 1.5.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import coincurve  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, utils  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402
from eth_keys import KeyAPI  # noqa: E402
from eth_keys.backends import NativeECCBackend  # noqa: E402

from bench.common import Row, batch_median_seconds, print_table  # noqa: E402
from signers import PublicKey, Signature  # noqa: E402
from signers.signature import parse_der  # noqa: E402

SAMPLES = 256


def run() -> list[Row]:
    key = ec.generate_private_key(ec.SECP256K1())
    public = PublicKey.from_spki(key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    cases = []
    for _ in range(SAMPLES):
        digest = os.urandom(32)
        cases.append((key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))), digest))
    # the floor: a bare recovery of an already-made 65-byte recoverable signature
    recoverable = [(Signature.from_der(der, d, public), d) for der, d in cases]
    bare = [(s.to_bytes()[:64] + bytes([s.y_parity]), d) for s, d in recoverable]
    it = iter(range(10**12))

    def bare_recovery() -> None:
        sig, digest = bare[next(it) % SAMPLES]
        coincurve.PublicKey.from_signature_and_message(sig, digest, hasher=None)

    def convert() -> None:
        der, digest = cases[next(it) % SAMPLES]
        Signature.from_der(der, digest, public)

    def convert_by_address() -> None:
        der, digest = cases[next(it) % SAMPLES]
        Signature.from_der(der, digest, public.address)

    native = KeyAPI(NativeECCBackend)

    def naive_pure_python() -> None:  # what several Python KMS signers do: eth-keys' pure-Python backend, two tries
        der, digest = cases[next(it) % SAMPLES]
        r, s = parse_der(der)
        s = min(s, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - s)
        for v in (0, 1):
            recovered = native.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest)
            if recovered.to_canonical_address() == public.address_bytes:
                break

    floor = batch_median_seconds(bare_recovery, 200, 15)
    rows = [Row("conversion", "bare coincurve recovery (floor)", floor * 1e6, "us", 1.0, "floor")]
    for name, fn, batch in (
        ("core DER -> Ethereum, PublicKey known", convert, 200),
        ("core DER -> Ethereum, address only", convert_by_address, 200),
        ("naive: eth-keys pure-Python recovery", naive_pure_python, 5),
    ):
        t = batch_median_seconds(fn, batch, 15)
        rows.append(Row("conversion", name, t * 1e6, "us", t / floor, "bare recovery"))
    return rows


if __name__ == "__main__":
    print_table(run(), "DER -> Ethereum signature conversion (median per signature)")
