"""A fleet of ``signers serve`` processes shares one audit trail on the real PostgreSQL (issue 11): every
signature a client received has its record, under that client's name and the process that signed it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from signers_server.config import parse_config

from signers.audit import AuditTrail

from .conftest import LOCAL_KEY, LOCAL_KEY_ENV, LOCAL_KEY_URI

ADDRESS = Account.from_key(LOCAL_KEY).address


def test_audit_db_takes_a_path_or_a_store_url(tmp_path: Path) -> None:
    base = {"keys": {"dev": {"uri": LOCAL_KEY_URI}}, "clients": {"app": {"token_hash": "sha256:" + "ab" * 32}}}
    url = "postgresql://signer@db.internal:5432/audit?password-source=env:AUDIT_PW"
    as_url = parse_config({**base, "server": {"chain_id": 1, "audit_db": url}}, tmp_path / "signers.toml")
    as_path = parse_config({**base, "server": {"chain_id": 1, "audit_db": "audit.sqlite"}}, tmp_path / "signers.toml")
    assert as_url.audit_db == url  # a URL is the store's to read, unchanged
    assert as_path.audit_db == str(tmp_path / "audit.sqlite")  # a path is relative to the config file


def test_two_services_write_one_postgresql_trail(signers_server, postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.create_database("fleet_serve")
    servers = [
        signers_server(
            {
                "server": {"chain_id": 1, "audit_db": url},
                "keys": {"dev": {"uri": LOCAL_KEY_URI}},
                "clients": {name: {"keys": ["dev"], "methods": ["personal_sign"]}},
            },
            env=LOCAL_KEY_ENV,
        )
        for name in ("payments", "payouts")
    ]
    messages = [f"fleet message {i}".encode() for i in range(40)]

    def sign(i: int) -> tuple[str, bytes, str]:
        server, client = servers[i % 2], ("payments", "payouts")[i % 2]
        result = server.result("personal_sign", ["0x" + messages[i].hex(), ADDRESS], client)
        return client, messages[i], result

    with ThreadPoolExecutor(8) as pool:
        delivered = list(pool.map(sign, range(len(messages))))
    for _client, message, signature in delivered:  # each delivered signature is the key's
        assert Account.recover_message(encode_defunct(message), signature=signature) == ADDRESS

    trail = AuditTrail(url)
    try:
        records = trail.entries(outcome="signed")
        by_signature = {r.signature: r for r in records}
        assert len(records) == len(delivered) == len(by_signature)  # no duplicates, no gaps
        for client, _message, signature in delivered:
            record = by_signature[signature]
            assert record.client == client and record.address == ADDRESS
        pids = {r.pid for r in records}
        assert pids == {s.process.pid for s in servers}  # each process recorded its own signatures
        assert len(trail.entries(client="payouts")) == len(delivered) // 2
    finally:
        trail.close()
