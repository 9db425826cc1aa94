"""Operating the service: configuration checks, tokens, reload, SIGTERM drain, metrics and the access log.

Slow requests are made real by a KMS key behind the fault-injecting proxy (its Sign or GetPublicKey held
for a while); the tests wait on what the proxy has seen, never on a fixed sleep before acting."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
import tomli_w
from eth_account import Account
from eth_account.messages import encode_defunct

from .conftest import LOCAL_KEY, LOCAL_KEY_ENV, LOCAL_KEY_URI

ADDRESS = Account.from_key(LOCAL_KEY).address


def check_config(tmp_path, config: dict) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "signers.toml"
    path.write_text(tomli_w.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "signers_server", "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)  # polling what another process has observably done


GOOD = {
    "server": {"chain_id": 1},
    "keys": {"dev": {"uri": LOCAL_KEY_URI}},
    "clients": {"app": {"token_hash": "sha256:" + "ab" * 32, "keys": ["dev"]}},
}


def test_check_config_accepts_a_good_file(tmp_path):
    result = check_config(tmp_path, GOOD)
    assert result.returncode == 0 and result.stdout.startswith("ok: 1 keys, 1 clients"), result.stderr


SECRET = "sgn_correct-horse-battery-staple"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"clients": {"app": {"token": SECRET, "keys": ["dev"]}}}, "clients.app.token"),
        ({"clients": {"app": {"token_hash": SECRET, "keys": ["dev"]}}}, "clients.app.token_hash"),
        ({"keys": {"dev": {"uri": "pkcs11:token=t;object=k?pin-value=" + SECRET}}}, "keys.dev.uri"),
        ({"keys": {"dev": {"uri": "local:env:X", "password": SECRET}}}, "keys.dev.password"),
        ({"keys": {"dev": {"uri": LOCAL_KEY}}}, "keys.dev.uri"),
        ({"tls": {"cert": "c.pem", "key": "k.pem", "key_password": SECRET}}, "tls.key_password"),
    ],
    ids=["token", "token-as-hash", "pin-value", "password", "private-key-as-uri", "tls-password"],
)
def test_a_plaintext_secret_is_refused_naming_the_field(tmp_path, change, field):
    result = check_config(tmp_path, {**GOOD, **change})
    assert result.returncode == 1
    assert field in result.stderr
    assert SECRET not in result.stderr and LOCAL_KEY[2:] not in result.stderr


def test_non_loopback_bind_without_tls_is_refused(tmp_path):
    result = check_config(tmp_path, {**GOOD, "server": {"chain_id": 1, "host": "0.0.0.0"}})
    assert result.returncode == 1 and "server.host" in result.stderr and "tls" in result.stderr
    allowed = check_config(
        tmp_path, {**GOOD, "server": {"chain_id": 1, "host": "0.0.0.0", "allow_insecure_bind": True}}
    )
    assert allowed.returncode == 0


def test_hash_token_makes_a_token_and_its_hash():
    out = subprocess.run(
        [sys.executable, "-m", "signers_server", "hash-token", "--json"], capture_output=True, text=True, check=True
    )
    made = json.loads(out.stdout)
    assert made["token_hash"] == "sha256:" + hashlib.sha256(made["token"].encode()).hexdigest()
    assert len(made["token"]) > 40


def slow_server(signers_server, localstack, proxy, **limits):
    key = localstack.create_key()
    config = {
        "server": {"chain_id": 1},
        "limits": limits,
        "keys": {"dev": {"uri": LOCAL_KEY_URI}, "kms": {"uri": localstack.uri(key.key_id, endpoint=proxy.endpoint)}},
        "clients": {"app": {"keys": ["*"], "methods": ["eth_accounts", "personal_sign", "reload"]}},
    }
    return signers_server(config, env=LOCAL_KEY_ENV), config, key.address


def sign_in_thread(server, address: str, results: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(server.rpc("personal_sign", ["0x5a", address], "app")))
    thread.start()
    return thread


def test_reload_swaps_the_set_while_in_flight_requests_finish_on_the_old_one(signers_server, localstack, proxy):
    server, config, kms_address = slow_server(signers_server, localstack, proxy)
    headers = server.headers("app")
    assert set(server.result("eth_accounts", [], "app")) == {ADDRESS, kms_address}

    # A request in flight on the KMS key (its Sign held 2 s at the proxy)...
    proxy.inject("Sign", ("delay", 2.0))
    seen = proxy.count("Sign")
    results: list = []
    thread = sign_in_thread(server, kms_address, results)
    wait_until(lambda: proxy.count("Sign") > seen)

    # ...while a reload removes that key. The new set loads slowly (GetPublicKey held), so a second is 409.
    config["keys"] = {"dev": {"uri": LOCAL_KEY_URI}, "kms2": config["keys"]["kms"]}
    config["clients"]["app"]["keys"] = ["dev"]
    server.rewrite_config(config)
    proxy.inject("GetPublicKey", ("delay", 1.0))
    assert httpx.post(server.url + "reload", headers=headers).status_code == 202
    assert httpx.post(server.url + "reload", headers=headers).status_code == 409
    wait_until(lambda: not httpx.get(server.url + "reload", headers=headers).json()["running"])
    assert httpx.get(server.url + "reload", headers=headers).json()["last"] == {"ok": True, "generation": 2}

    thread.join(30)
    (answer,) = results
    assert Account.recover_message(encode_defunct(b"Z"), signature=answer["result"]) == kms_address
    assert server.result("eth_accounts", [], "app") == [ADDRESS]
    assert server.rpc("personal_sign", ["0x5a", kms_address], "app")["error"]["code"] == -32000

    # A broken config is not applied: the service keeps serving the last good set.
    server.config_path.write_text("[keys.dev]\nuri = 3\n")
    assert httpx.post(server.url + "reload", headers=headers).status_code == 202
    wait_until(lambda: not httpx.get(server.url + "reload", headers=headers).json()["running"])
    last = httpx.get(server.url + "reload", headers=headers).json()["last"]
    assert last["ok"] is False and "keys.dev.uri" in last["error"]
    assert server.result("personal_sign", ["0x5a", ADDRESS], "app")


def test_reload_needs_the_right(signers_server):
    server = signers_server({**GOOD, "clients": {"app": {"keys": ["dev"]}}}, env=LOCAL_KEY_ENV)
    assert httpx.post(server.url + "reload", headers=server.headers("app")).status_code == 403
    assert httpx.post(server.url + "reload").status_code == 401


def test_sigterm_drains_in_flight_requests_then_exits(signers_server, localstack, proxy):
    server, _, kms_address = slow_server(signers_server, localstack, proxy, drain_timeout=10.0)
    proxy.inject("Sign", ("delay", 2.0))
    seen = proxy.count("Sign")
    results: list = []
    thread = sign_in_thread(server, kms_address, results)
    wait_until(lambda: proxy.count("Sign") > seen)
    server.process.terminate()  # SIGTERM
    thread.join(30)
    (answer,) = results
    assert Account.recover_message(encode_defunct(b"Z"), signature=answer["result"]) == kms_address
    assert server.process.wait(30) in (0, -15)  # uvicorn re-raises SIGTERM once drained
    assert "backends closed" in server.stderr_path.read_text()
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "upcheck")


def test_metrics_and_access_log_hold_no_token(signers_server):
    server = signers_server(
        {**GOOD, "clients": {"app": {"keys": ["dev"]}, "nosy": {"keys": ["dev"], "methods": ["eth_accounts"]}}},
        env=LOCAL_KEY_ENV,
    )
    assert server.result("personal_sign", ["0x6869", ADDRESS], "app")
    assert server.rpc("personal_sign", ["0x6869", ADDRESS], "nosy")["error"]["code"] == 4001
    assert server.rpc("eth_sign", [ADDRESS, "zz"], "app")["error"]["code"] == -32602
    httpx.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"},
               headers={"Authorization": "Bearer sgn_wrong-token-text"})  # fmt: skip

    metrics = httpx.get(server.metrics_url).text
    assert 'signers_requests_total{client="app",method="personal_sign",outcome="ok"} 1.0' in metrics
    assert 'signers_requests_total{client="nosy",method="personal_sign",outcome="denied"} 1.0' in metrics
    assert 'signers_policy_refusals_total{policy="client.methods"} 1.0' in metrics
    assert 'signers_signing_seconds_count{backend="local"} 1.0' in metrics
    assert "signers_in_flight" in metrics
    log = server.access_log.read_text()
    lines = server.log_lines()
    assert {"client": "app", "method": "personal_sign", "key": "dev", "outcome": "ok"}.items() <= lines[0].items()
    assert lines[1]["outcome"] == "denied" and lines[2]["code"] == -32602
    for text in (metrics, log, server.stderr_path.read_text()):
        for token in (*server.tokens.values(), "sgn_wrong-token-text"):
            assert token not in text
        assert "6869" not in text  # no payload either


def test_a_key_that_cannot_open_or_a_second_name_for_one_key_stops_the_start(tmp_path):
    def start(keys: dict) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "signers.toml"
        path.write_text(
            tomli_w.dumps({**GOOD, "keys": keys, "clients": {"app": GOOD["clients"]["app"] | {"keys": ["*"]}}})
        )
        return subprocess.run(
            [sys.executable, "-m", "signers_server", "--config", str(path)],
            capture_output=True, text=True, timeout=60, env={**os.environ, **LOCAL_KEY_ENV},
        )  # fmt: skip

    twice = start({"a": {"uri": LOCAL_KEY_URI}, "b": {"uri": LOCAL_KEY_URI}})
    assert twice.returncode == 1 and "keys.b: the same key" in twice.stderr and "keys.a" in twice.stderr
    missing = start({"a": {"uri": "local:env:SIGNERS_TEST_NOT_SET"}})
    assert missing.returncode == 1 and "keys.a: KeyNotFoundError" in missing.stderr
