"""`signers custody A B C D`: a security team compares the four custodies side by side, each on its real
service (SoftHSM, LocalStack, the Cloud KMS emulator) beside a local key, in one table or one JSON list."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from click.testing import CliRunner
from eth_account import Account

from signers.cli import cli
from signers.custody import COLUMNS, PROCESS_MEMORY, SOFTWARE_HSM
from tests.fixtures.localstack import LocalStack
from tests.fixtures.softhsm import SoftHSMToken


def test_four_custodies_side_by_side(
    softhsm: SoftHSMToken, localstack: LocalStack, gcp_kms_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_key = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("SIGNERS_TEST_SIDE_BY_SIDE", local_key)
    aws = localstack.create_key()
    uris = [
        "local:env:SIGNERS_TEST_SIDE_BY_SIDE",
        softhsm.generate_key(),
        aws.uri,
        gcp_kms_emulator.uri(gcp_kms_emulator.create_key()),
    ]
    out = CliRunner().invoke(cli, ["custody", *uris, "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.stderr
    reports = json.loads(out.stdout)
    assert [r["kind"] for r in reports] == ["software", "software", "cloud-kms", "cloud-kms"]
    assert [r["extractable"] for r in reports] == [True, False, False, False]
    assert [r["generated_in_hardware"] for r in reports] == [False, False, True, True]
    assert [r["warnings"] for r in reports] == [[PROCESS_MEMORY], [SOFTWARE_HSM], [], []]
    assert reports[0]["address"] == Account.from_key(local_key).address and reports[2]["address"] == aws.address
    assert all(set(COLUMNS) <= set(r) for r in reports)  # the common fields, whatever the backend

    table = CliRunner().invoke(cli, ["custody", *uris], catch_exceptions=False)
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == list(COLUMNS)
    for line, report in zip(lines[1:5], reports, strict=True):
        assert line.split()[1:3] == [report["kind"], report["address"]]
    assert lines[5:] == [
        f"warning [1] {reports[0]['backend']}: {PROCESS_MEMORY}",
        f"warning [2] {reports[1]['backend']}: {SOFTWARE_HSM}",
    ]
    assert local_key[2:] not in out.stdout + table.stdout + table.stderr
