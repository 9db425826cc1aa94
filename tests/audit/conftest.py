"""The audit trail's fixtures: the real PostgreSQL (the plugin's ``postgres``: the project's private cluster,
started if it does not run, stopped afterwards if this session started it), a fresh database per test, a local key,
and the worker processes of the fleet tests."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import signers
from postgres.cluster import Cluster
from signers import Signer

ROOT = Path(__file__).resolve().parents[2]
KEY_ENV = "AUDIT_TEST_KEY"
KEY = "0x" + "4d" * 32  # a test key, in process memory by design (local:)


@pytest.fixture(scope="session")
def cluster(postgres: Cluster) -> Cluster:
    """The signers.testing plugin's private cluster, under the name these tests use."""
    return postgres


@pytest.fixture
def pg_url(cluster: Cluster) -> str:
    """A fresh database on the real server, as a signers audit URL (password from a file: source)."""
    return cluster.create_database(f"audit_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def signer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Signer]:
    monkeypatch.setenv(KEY_ENV, KEY)
    with signers.load_signer(f"local:env:{KEY_ENV}") as key:
        yield key


def start_workers(
    url: str, processes: int, threads: int, count: int, out: Path, **env: str
) -> list[subprocess.Popen[bytes]]:
    """``processes`` signing processes (tests/audit/worker.py), ``count`` signatures each over ``threads``
    threads; each delivered signature is appended to ``out`` as "digest signature" the moment it returns."""
    environment = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": str(ROOT), **env}
    return [
        subprocess.Popen(
            [sys.executable, "-m", "tests.audit.worker", url, str(threads), str(count), str(out)],
            env=environment,
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        for _ in range(processes)
    ]


def delivered(out: Path) -> dict[str, str]:
    """digest -> signature of every complete line the workers wrote (a killed worker may leave half a line)."""
    pairs: dict[str, str] = {}
    if out.exists():
        for line in out.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and len(parts[1]) == 132:
                pairs[parts[0]] = parts[1]
    return pairs
