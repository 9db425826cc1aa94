"""Google Cloud KMS: the framework's sign against the bare google-cloud-kms ``asymmetric_sign``, on the emulator.

The emulator runs in its own process (as users run it), so its work does not share this process's GIL.
Sequential latency: bare and framework calls are interleaved round by round (the machine's drift hits both),
medians compared; target ratio <= 1.10. Two baselines: the bare call alone, and the bare call with the CRC32C
checks Google's documentation asks every caller to make (what the framework also does, plus recovery and its
self-check). Async: 64 requests kept in flight through the native async client, framework against bare.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import google_crc32c  # noqa: E402
from signers_gcp_kms.connection import CallPolicy, async_client, sync_client  # noqa: E402
from signers_gcp_kms.lifecycle import create_signing_key, ensure_key_ring  # noqa: E402

import signers  # noqa: E402
from bench.common import Row, print_table  # noqa: E402

ROUNDS = 30  # interleaved rounds
PER_ROUND = 20  # calls of each kind per round
IN_FLIGHT = 64
ASYNC_TOTAL = 2048  # signatures per async measurement
DIGESTS = [os.urandom(32) for _ in range(256)]


@contextmanager
def emulator() -> Iterator[str]:
    """An emulator subprocess on a free port; its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "signers_gcp_kms.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the server listens
        if "listening on " not in line:
            raise RuntimeError("the Cloud KMS emulator did not start")
        yield line.rsplit("listening on ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close() if process.stdout else None


def crc(data: bytes) -> int:
    return int(google_crc32c.value(data))


def interleaved(calls: dict[str, Callable[[int], object]]) -> dict[str, float]:
    """Median seconds per call of each function, measured in alternating rounds."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for fn in calls.values():  # warm-up: channels, caches
        for i in range(10):
            fn(i)
    for r in range(ROUNDS):
        for name, fn in calls.items():
            for i in range(PER_ROUND):
                start = time.perf_counter()
                fn(r * PER_ROUND + i)
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


async def throughput(sign: Callable[[bytes], Awaitable[object]]) -> float:
    """Signatures per second with IN_FLIGHT requests kept in flight."""
    per_worker = ASYNC_TOTAL // IN_FLIGHT

    async def worker(offset: int) -> None:
        for i in range(per_worker):
            await sign(DIGESTS[(offset + i) % len(DIGESTS)])

    await asyncio.gather(*(worker(w) for w in range(IN_FLIGHT)))  # warm-up
    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(IN_FLIGHT)))
    return per_worker * IN_FLIGHT / (time.perf_counter() - start)


def run() -> list[Row]:
    with emulator() as address:
        client = sync_client(address)
        policy = CallPolicy()
        ring = ensure_key_ring(client, "projects/bench/locations/global", "bench", policy)
        name = create_signing_key(client, ring, f"k{os.getpid()}", policy=policy).name
        signer = signers.load_signer(f"gcp-kms://{name}?endpoint={address}")

        def bare(i: int) -> object:
            return client.asymmetric_sign(request={"name": name, "digest": {"sha256": DIGESTS[i % 256]}})

        def bare_checked(i: int) -> object:  # Google's documented sample: send and check every CRC32C
            digest = DIGESTS[i % 256]
            response = client.asymmetric_sign(
                request={"name": name, "digest": {"sha256": digest}, "digest_crc32c": crc(digest)}
            )
            if not response.verified_digest_crc32c or response.name != name:
                raise RuntimeError("integrity")
            if crc(response.signature) != response.signature_crc32c:
                raise RuntimeError("integrity")
            return response.signature

        def framework(i: int) -> object:
            return signer.sign_digest(DIGESTS[i % 256])

        medians = interleaved({"bare": bare, "bare_checked": bare_checked, "framework": framework})

        async def async_rates() -> tuple[float, float]:
            aclient = async_client(address)

            async def bare_async(digest: bytes) -> object:
                return await aclient.asymmetric_sign(request={"name": name, "digest": {"sha256": digest}})

            bare_rate = await throughput(bare_async)
            framework_rate = await throughput(signer.asign_digest)
            await aclient.transport.close()
            await signer.backend.aclose()  # type: ignore[attr-defined]
            return bare_rate, framework_rate

        bare_rate, framework_rate = asyncio.run(async_rates())
        signer.close()
        client.transport.close()

    us = 1e6
    return [
        Row("gcp-kms", "bare asymmetric_sign (emulator)", medians["bare"] * us, "us"),
        Row(
            "gcp-kms",
            "bare asymmetric_sign + Google's CRC32C checks",
            medians["bare_checked"] * us,
            "us",
            medians["bare_checked"] / medians["bare"],
            "bare",
        ),
        Row(
            "gcp-kms",
            "signer.sign_digest (checks, low-s, v, self-check)",
            medians["framework"] * us,
            "us",
            medians["framework"] / medians["bare"],
            "bare",
            "target <= 1.10",
        ),
        Row(
            "gcp-kms",
            "signer.sign_digest vs checked bare",
            medians["framework"] * us,
            "us",
            medians["framework"] / medians["bare_checked"],
            "bare + checks",
        ),
        Row("gcp-kms", f"bare async asymmetric_sign, {IN_FLIGHT} in flight", bare_rate, "sig/s"),
        Row(
            "gcp-kms",
            f"signer.asign_digest, {IN_FLIGHT} in flight",
            framework_rate,
            "sig/s",
            framework_rate / bare_rate,
            "bare async",
        ),
    ]


if __name__ == "__main__":
    print_table(run(), "Google Cloud KMS (emulator)")
