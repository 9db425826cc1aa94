"""PKCS#11 (SoftHSM2) signing throughput: the framework against bare python-pkcs11 ``sign`` on the same key.

    .venv/bin/python bench/bench_pkcs11.py

Rows: bare ``key.sign(digest, mechanism=CKM_ECDSA)`` on one thread; ``Signer.sign_digest`` on one thread
(device call + low-s + recovery id + self-check + hooks); the same with 8 threads (the module lock
serialises device calls: safety, not speed-up); and ``SigningPool`` worker processes on every core, the
design's multi-core figure. Targets: framework >= 0.85 x bare (one thread), pool >= 1.7 x one thread.
The token is a private SoftHSM under .state/softhsm/bench-<pid>/ (removed at the end).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, alternating_rounds, batch_median_seconds, print_table  # noqa: E402

GROUP = "pkcs11"
PIN_ENV = "SIGNERS_BENCH_PKCS11_PIN"


def _rate(seconds_per_call: float) -> float:
    return 1.0 / seconds_per_call


def _paired(bare: Callable[[], object], framework: Callable[[], object]) -> tuple[float, float, float]:
    """Median seconds per call of each, and the median of per-round throughput ratios (rounds alternate the two)."""
    bare_times, framework_times = alternating_rounds(bare, framework, rounds=21, batch=100)
    ratios = [b / f for b, f in zip(bare_times, framework_times, strict=True)]
    return statistics.median(bare_times), statistics.median(framework_times), statistics.median(ratios)


def _threads_rate(signer: object, threads: int, per_thread: int) -> float:
    from eth_hash.auto import keccak

    digests = [keccak(b"t%d" % i) for i in range(per_thread)]

    def work(_: int) -> None:
        for d in digests:
            signer.sign_digest(d)  # type: ignore[attr-defined]

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as executor:
        list(executor.map(work, range(threads)))
    return threads * per_thread / (time.perf_counter() - start)


def run() -> list[Row]:
    from eth_hash.auto import keccak
    from pkcs11 import Mechanism
    from signers_pkcs11.pool import SigningPool

    import signers
    from softhsm.private import private_token

    rows: list[Row] = []
    with private_token(ROOT / ".state" / "softhsm" / f"bench-{os.getpid()}", "bench", PIN_ENV) as token:
        uri = token.generate_key("bench-key")
        signer = signers.load_signer(uri)
        key = signer.backend._current_key()  # the very key object the framework signs with
        digest = keccak(b"bench")

        bare, framework, ratio = _paired(
            lambda: key.sign(digest, mechanism=Mechanism.ECDSA), lambda: signer.sign_digest(digest)
        )
        one = _rate(framework)
        rows.append(Row(GROUP, "bare python-pkcs11 key.sign (1 thread)", _rate(bare), "sig/s"))
        rows.append(
            Row(
                GROUP,
                "Signer.sign_digest (1 thread)",
                one,
                "sig/s",
                ratio,
                "bare python-pkcs11",
                "target >= 0.85; median of paired rounds",
            )
        )
        threaded = _threads_rate(signer, 8, 250)
        rows.append(
            Row(
                GROUP,
                "Signer.sign_digest (8 threads, one process)",
                threaded,
                "sig/s",
                threaded / one,
                "framework, 1 thread",
                "module lock: safe, serialised",
            )
        )

        processes = os.cpu_count() or 2
        digests = [keccak(b"p%d" % i) for i in range(3000)]
        with SigningPool(uri, processes=processes) as pool:
            pool.sign_digests(digests[:400])  # warm the workers
            rates, ratios = [], []
            for _ in range(5):  # alternate with one in-process thread: machine load hits both alike
                single = _rate(batch_median_seconds(lambda: signer.sign_digest(digest), batch=600, rounds=1))
                start = time.perf_counter()
                signatures = pool.sign_digests(digests)
                rates.append(len(digests) / (time.perf_counter() - start))
                ratios.append(rates[-1] / single)
            assert all(s.recover(d) == signer.address for s, d in zip(signatures, digests, strict=True))
        rows.append(
            Row(
                GROUP,
                f"SigningPool sign_digests ({processes} processes)",
                statistics.median(rates),
                "sig/s",
                statistics.median(ratios),
                "framework, 1 thread",
                "target >= 1.7; median of paired rounds",
            )
        )
    return rows


if __name__ == "__main__":
    print_table(run(), "PKCS#11 (SoftHSM2)")
