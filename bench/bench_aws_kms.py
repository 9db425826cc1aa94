"""AWS KMS (LocalStack) signing: the framework against a bare boto3 ``sign`` call on the same key, and the
Python peers a user would pick instead.

    .venv/bin/python bench/bench_aws_kms.py

One run, one LocalStack (demo.services.start_localstack: reused if one serves 127.0.0.1:$LOCALSTACK_PORT, default
4566, else started and stopped afterwards), one key. Rows:
- median latency, interleaved with the bare call so drift hits both: ``Signer.sign_digest`` (KMS Sign +
  DER parse + low-s + recovery id + self-check + hooks) and ``Signer.sign_transaction`` (EIP-1559), as
  ratios to bare ``kms.sign(MessageType=DIGEST)``; target sign_digest <= 1.10;
- throughput with 8 and 32 threads, framework against bare boto3 at the same thread count;
- peers from PyPI, each in its own venv under .state/bench-peers/ (their pins clash with ours: old
  eth-account, eth-ape 0.8), each timed against bare boto3 inside its own process, with every signature
  they return checked to recover to the key's address. A peer that cannot be installed or pointed at the
  endpoint gets a row saying why.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, print_table, progress  # noqa: E402
from signers.testing.localstack import AWS_TEST_ENV, REGION, LocalStack  # noqa: E402

GROUP = "aws-kms"
LATENCY_ROUNDS = 400
WARMUP = 100
THROUGHPUT_SIGNATURES = 400
THROUGHPUT_ROUNDS = 3
PEER_ROUNDS = 150
PEER_STATE = ROOT / ".state" / "bench-peers"
TX = {
    "to": "0x5a5A5a5a5A5a5a5a5a5A5a5A5A5a5a5A5A5A5A5A",
    "value": 10**15,
    "data": "0x",
    "nonce": 3,
    "gas": 100_000,
    "chainId": 1,
    "maxFeePerGas": 3 * 10**9,
    "maxPriorityFeePerGas": 10**9,
    "type": 2,
}

# Both 2021 peers pin eth-account < 0.6 -> eth-abi 2 -> parsimonious 0.8, which calls inspect.getargspec
# (removed in Python 3.11) at import. Forcing parsimonious 0.9 (--no-deps, after the peer) makes them import;
# nothing else is changed. The row notes it.
PARSIMONIOUS_FIX = "parsimonious==0.9.0 regex"

# what each peer is asked to do, in its own venv; `client`, `key_id`, `arn`, `tx`, `digest` are given
PEERS: dict[str, dict[str, str]] = {
    "eth-kms-signer": {
        "requirement": "eth-kms-signer==0.1.5",
        "force": PARSIMONIOUS_FIX,
        "operation": "sign_transaction",
        "setup": "from eth_kms_signer.signer import EthKmsClient\npeer = EthKmsClient(boto_kms_client=client)",
        "call": "peer.sign_transaction(tx, key_id)",
        "check": "Account.recover_transaction(result) == address",
    },
    "ethereum-kms-signer": {
        "requirement": "ethereum-kms-signer==0.1.6",
        "force": PARSIMONIOUS_FIX,
        "operation": "sign_transaction",
        "setup": "from ethereum_kms_signer.kms import sign_transaction",
        "call": "sign_transaction(tx, key_id, client).rawTransaction",
        "check": "Account.recover_transaction(result) == address",
    },
    "ape-aws": {
        "requirement": "ape-aws==0.8.4",
        "operation": "sign_raw_msghash",
        "setup": (
            "from ape_aws.kms.client import KmsKey\nfrom ape_aws.accounts import KmsAccount\n"
            "KmsKey.kms_client = client\npeer = KmsAccount(key=KmsKey(TargetKeyId=key_id, AliasArn=arn))"
        ),
        "call": "peer.sign_raw_msghash(digest)",
        "check": "Account._recover_hash(digest, vrs=(result.v, result.r, result.s)) == address",
    },
}

# runs inside a peer's venv: times the peer interleaved with bare boto3 sign, checks every result
PEER_RUNNER = r"""
import json, os, statistics, sys, time
import boto3
from eth_account import Account
args = json.loads(sys.argv[1])
client = boto3.client("kms", region_name=args["region"], endpoint_url=args["endpoint"])
key_id, arn, address, tx = args["key_id"], args["arn"], args["address"], args["tx"]
exec(args["setup"])
peer_times, bare_times, wrong = [], [], 0
for i in range(args["rounds"] + 3):
    digest = os.urandom(32)
    start = time.perf_counter()
    client.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    bare = time.perf_counter() - start
    start = time.perf_counter()
    result = eval(args["call"])
    took = time.perf_counter() - start
    if i >= 3:
        bare_times.append(bare); peer_times.append(took)
        wrong += not eval(args["check"])
print(json.dumps({"peer": statistics.median(peer_times), "bare": statistics.median(bare_times), "wrong": wrong,
                  "boto3": boto3.__version__}))
"""


def _interleaved(first: Callable[[], object], second: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median seconds of each, alternating calls (and which goes first) so drift and caching hit both."""
    a, b = [], []
    for i in range(rounds + 5):
        for fn, samples in ((first, a), (second, b)) if i % 2 else ((second, b), (first, a)):
            start = time.perf_counter()
            fn()
            if i >= 5:
                samples.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def _throughput(first: Callable[[], object], second: Callable[[], object], threads: int) -> tuple[float, float]:
    """Median signatures per second of each over THROUGHPUT_ROUNDS alternating rounds on one thread pool."""
    rates: tuple[list[float], list[float]] = ([], [])
    with ThreadPoolExecutor(threads) as pool:
        for fn in (first, second):
            list(pool.map(lambda _, f=fn: f(), range(threads * 2)))  # warm the connection pool
        for _ in range(THROUGHPUT_ROUNDS):
            for fn, samples in ((first, rates[0]), (second, rates[1])):
                start = time.perf_counter()
                list(pool.map(lambda _, f=fn: f(), range(THROUGHPUT_SIGNATURES)))
                samples.append(THROUGHPUT_SIGNATURES / (time.perf_counter() - start))
    return statistics.median(rates[0]), statistics.median(rates[1])


def _peer_venv(name: str, spec: dict[str, str]) -> Path | str:
    """The peer's venv python, installing it on first use; or why it cannot be installed."""
    requirement = spec["requirement"]
    venv = PEER_STATE / name / "venv"
    stamp = venv / f".installed-{requirement}{'+forced' if spec.get('force') else ''}"
    if stamp.exists():
        return venv / "bin" / "python"
    print(f"   installing {requirement} into {venv.relative_to(ROOT)} ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        lines = [
            line for line in result.stderr.splitlines() if line.strip() and not line.startswith("WARNING: Location")
        ]
        version = "{}.{}".format(*sys.version_info[:2])
        return f"cannot be installed on Python {version}: {' / '.join(lines[-2:])[:200]}"
    if spec.get("force"):
        result = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--no-deps",
                *spec["force"].split(),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            return f"cannot install {spec['force']} over its pins: {result.stderr.strip()[-200:]}"
    stamp.touch()
    return venv / "bin" / "python"


def _run_peer(name: str, spec: dict[str, str], key: dict[str, str], endpoint: str) -> Row:
    label = f"peer {name} {spec['operation']}"
    python = _peer_venv(name, spec)
    if isinstance(python, str):
        return Row(GROUP, label, float("nan"), "ms", note=python)
    args = {
        "region": REGION,
        "endpoint": endpoint,
        "rounds": PEER_ROUNDS,
        "tx": TX,
        **key,
        "setup": spec["setup"],
        "call": spec["call"],
        "check": spec["check"],
    }
    env = {**os.environ, **AWS_TEST_ENV, "APE_DATA_FOLDER": str(PEER_STATE / name / "ape-data")}
    result = subprocess.run(
        [str(python), "-P", "-c", PEER_RUNNER, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PEER_STATE / name,
        timeout=600,
    )
    if result.returncode != 0:
        last = [line for line in result.stderr.strip().splitlines() if line.strip()][-1:] or ["no output"]
        return Row(GROUP, label, float("nan"), "ms", note=f"fails against the endpoint: {last[0][:200]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    forced = f"{spec['force'].split()[0]} forced; " if spec.get("force") else ""
    note = f"boto3 {out['boto3']}; {forced}" + (
        f"{out['wrong']} WRONG signatures of {PEER_ROUNDS}" if out["wrong"] else f"all {PEER_ROUNDS} recover"
    )
    return Row(
        GROUP, label, out["peer"] * 1000, "ms", out["peer"] / out["bare"], "bare boto3 sign (same process)", note
    )


_progress = progress("bench_aws_kms")


def run() -> list[Row]:
    from demo.services import start_localstack

    with contextlib.ExitStack() as services:
        return _measure(start_localstack(services, _progress))


def _measure(kms: LocalStack) -> list[Row]:
    import botocore.config

    import signers

    client = kms.client(config=botocore.config.Config(max_pool_connections=64))
    key = kms.create_key(description="signers bench")
    key_id, address = key.key_id, key.address
    with signers.load_signer(key.uri) as signer:
        assert signer.address == address

        def bare() -> object:
            return client.sign(
                KeyId=key_id, Message=os.urandom(32), MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
            )

        def ours() -> object:
            return signer.sign_digest(os.urandom(32))

        def ours_tx() -> object:
            return signer.sign_transaction(TX)

        rows: list[Row] = []
        for _ in range(WARMUP):  # LocalStack's first calls after start are slow (catalog, JIT-less caches)
            bare()
            ours()
        framework, baseline = _interleaved(ours, bare, LATENCY_ROUNDS)
        rows.append(Row(GROUP, "bare boto3 kms.sign (DIGEST), 1 thread", baseline * 1000, "ms"))
        rows.append(
            Row(
                GROUP,
                "Signer.sign_digest, 1 thread",
                framework * 1000,
                "ms",
                framework / baseline,
                "bare boto3 sign",
                "target <= 1.10",
            )
        )
        overhead = (framework - baseline) * 1e6
        rows.append(
            Row(
                GROUP,
                "framework overhead per signature (median difference)",
                overhead,
                "us",
                note="conversion, low-s, recovery id, self-check, hooks, retry wrapper",
            )
        )
        tx_time, baseline_tx = _interleaved(ours_tx, bare, LATENCY_ROUNDS // 2)
        rows.append(
            Row(
                GROUP,
                "Signer.sign_transaction (EIP-1559), 1 thread",
                tx_time * 1000,
                "ms",
                tx_time / baseline_tx,
                "bare boto3 sign",
            )
        )
        for threads in (8, 32):
            our_rate, bare_rate = _throughput(ours, bare, threads)
            rows.append(Row(GROUP, f"bare boto3 kms.sign, {threads} threads", bare_rate, "sig/s"))
            rows.append(
                Row(
                    GROUP,
                    f"Signer.sign_digest, {threads} threads",
                    our_rate,
                    "sig/s",
                    our_rate / bare_rate,
                    f"bare boto3, {threads} threads",
                )
            )
    peer_key = {"key_id": key_id, "arn": key.arn, "address": str(address)}
    for name, spec in PEERS.items():
        print(f"   peer {name} ...", file=sys.stderr, flush=True)
        rows.append(_run_peer(name, spec, peer_key, kms.endpoint))
    return rows


if __name__ == "__main__":
    print_table(run(), "AWS KMS (LocalStack): framework vs bare boto3 and peers")
