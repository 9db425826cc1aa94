"""`signers gcp-kms create/list/emulator` and `signers custody`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc

import signers

SIGNERS = str(Path(sys.executable).with_name("signers"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIGNERS, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def location_args(emulator: Any) -> list[str]:
    return ["--project", "signers-test", "--location", "global", "--endpoint", emulator.address]


def test_create_list_custody(gcp_kms_emulator: Any) -> None:
    ring = f"cli-{uuid.uuid4().hex[:8]}"
    out = run("gcp-kms", "create", *location_args(gcp_kms_emulator), "--key-ring", ring, "--key", "owner")
    assert out.returncode == 0, out.stderr
    address = out.stdout.strip()
    uri = out.stderr.strip().splitlines()[-1].removeprefix("key version: ")
    assert (
        uri
        == f"gcp-kms://projects/signers-test/locations/global/keyRings/{ring}/cryptoKeys/owner/cryptoKeyVersions/1?endpoint={gcp_kms_emulator.address}"
    )
    assert signers.load_signer(uri).address == address

    # a second key in the same (existing) key ring, JSON output
    second = run(
        "gcp-kms", "create", *location_args(gcp_kms_emulator), "--key-ring", ring, "--key", "session", "--json"
    )
    assert second.returncode == 0, second.stderr
    created = json.loads(second.stdout)
    assert signers.load_signer(created["uri"]).address == created["address"]

    listed = run("gcp-kms", "list", *location_args(gcp_kms_emulator), "--key-ring", ring, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["uri"]: row for row in json.loads(listed.stdout)}
    assert rows[uri]["address"] == address and rows[created["uri"]]["address"] == created["address"]
    assert {row["algorithm"] for row in rows.values()} == {"EC_SIGN_SECP256K1_SHA256"}
    assert {row["protection_level"] for row in rows.values()} == {"HSM"}
    text = run("gcp-kms", "list", *location_args(gcp_kms_emulator))  # every key ring of the location
    assert uri in text.stdout and address in text.stdout

    custody = run("custody", uri, "--json")
    assert custody.returncode == 0, custody.stderr
    facts = json.loads(custody.stdout)
    assert facts["address"] == address
    assert facts["protection_level"] == "HSM" and facts["algorithm"] == "EC_SIGN_SECP256K1_SHA256"
    assert facts["state"] == "ENABLED" and facts["imported"] is False and facts["import_job"] is None
    assert facts["created"].startswith("20")


def test_create_errors(gcp_kms_emulator: Any) -> None:
    ring = f"cli-{uuid.uuid4().hex[:8]}"
    args = ["gcp-kms", "create", *location_args(gcp_kms_emulator), "--key-ring", ring, "--key", "k"]
    assert run(*args).returncode == 0
    again = run(*args)
    assert (
        again.returncode == 1
        and again.stderr.splitlines()[-1].startswith("error: ")
        and "already exists" in again.stderr
    )
    software = run(*args[:-1], "k2", "--protection-level", "SOFTWARE")
    assert software.returncode == 1 and "HSM" in software.stderr
    remote = run("gcp-kms", "list", "--project", "p", "--endpoint", "192.0.2.1:9010")
    assert remote.returncode == 1 and "loopback" in remote.stderr


def test_emulator_command(tmp_path: Path) -> None:
    """`signers gcp-kms emulator --port 0` serves, says where, and keeps keys in --data-dir."""
    process = subprocess.Popen(
        [SIGNERS, "gcp-kms", "emulator", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the emulator prints its address once it listens
        address = line.rsplit("listening on ", 1)[1].strip()
        assert address.startswith("127.0.0.1:")
        channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(channel).result(timeout=10)
        channel.close()
        out = run("gcp-kms", "create", "--project", "p", "--key-ring", "r", "--key", "k", "--endpoint", address)
        assert out.returncode == 0, out.stderr
        assert (tmp_path / "state.json").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == 0  # SIGTERM stops it cleanly
