"""Bad input and failures, each with its answer, and the service still serving afterwards.

One server for the module: a local key for client "app" (chain 31337 only, a `to` allowlist and a value
cap), a second local key for client "other", and a LocalStack KMS key reached through a fault-injecting
proxy (tests/aws_kms/fault_proxy.py) that can lose the backend's answer mid-request or hold it.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from eth_account import Account

from .conftest import LOCAL_KEY, LOCAL_KEY_ENV, LOCAL_KEY_URI

CHAIN = 31337
ADDRESS = Account.from_key(LOCAL_KEY).address
OTHER_KEY = "0x" + "22" * 32
OTHER = Account.from_key(OTHER_KEY).address
TO = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TX = {
    "from": ADDRESS,
    "to": TO,
    "chainId": hex(CHAIN),
    "nonce": "0x0",
    "gas": "0x5208",
    "gasPrice": "0x1",
    "value": "0x1",
}


@pytest.fixture(scope="module")
def kms(localstack, proxy):
    key = localstack.create_key()
    return key.address, localstack.uri(key.key_id, endpoint=proxy.endpoint)


@pytest.fixture(scope="module")
def server(module_server, kms):
    _, kms_uri = kms
    return module_server(
        {
            "server": {"chain_id": CHAIN},
            "limits": {"max_body_bytes": 4096, "max_batch": 3, "body_timeout": 1.0, "request_timeout": 3.0},
            "keys": {
                "dev": {"uri": LOCAL_KEY_URI},
                "other": {"uri": "local:env:SIGNERS_TEST_OTHER"},
                "kms": {"uri": kms_uri},
            },
            "clients": {
                "app": {"keys": ["dev", "kms"], "to": [TO], "max_value_wei": 10},
                "other": {"keys": ["other"]},
                "limited": {"keys": ["dev"], "rate_per_second": 0.01, "rate_burst": 2},
            },
        },
        env={**LOCAL_KEY_ENV, "SIGNERS_TEST_OTHER": OTHER_KEY},
    )


def still_serving(server) -> None:
    assert server.result("personal_sign", ["0x6869", ADDRESS], "app")
    assert httpx.get(server.url + "upcheck").text == "OK"


def error_of(answer: httpx.Response) -> dict:
    return answer.json()["error"]


def test_malformed_json(server):
    answer = server.post(b'{"jsonrpc": "2.0", "method": ', "app")
    assert answer.status_code == 200 and error_of(answer)["code"] == -32700
    still_serving(server)


@pytest.mark.parametrize(
    "body",
    [{"jsonrpc": "2.0", "id": 1}, {"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}, [1], "just a string"],
    ids=["no-method", "wrong-version", "not-an-object", "a-string"],
)
def test_invalid_requests(server, body):
    answer = server.post(body if not isinstance(body, str) else f'"{body}"', "app").json()
    error = (answer[0] if isinstance(answer, list) else answer)["error"]
    assert error["code"] == -32600
    still_serving(server)


@pytest.mark.parametrize("method", ["eth_signUserOperation", "wallet_sendTransaction", "personal_unlockAccount"])
def test_unknown_or_never_forwarded_methods(server, method):
    # no node is configured: eth_* that would be forwarded get -32601 too, and signing names never reach a node
    assert server.rpc(method, [], "app")["error"]["code"] == -32601
    still_serving(server)


def test_oversized_body(server):
    answer = server.post(
        {"jsonrpc": "2.0", "id": 1, "method": "personal_sign", "params": ["0x" + "ab" * 4096, ADDRESS]}, "app"
    )
    assert answer.status_code == 413 and error_of(answer)["code"] == -32600
    still_serving(server)


def test_batch_over_the_limit(server):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(4)]
    answer = server.post(batch, "app")
    assert answer.status_code == 413 and "limit of 3" in error_of(answer)["message"]
    still_serving(server)


@pytest.mark.parametrize("header", [None, "Bearer sgn_wrong", "Basic abc", "Bearer"])
def test_missing_or_wrong_token(server, header):
    headers = {"Authorization": header} if header else {}
    answer = httpx.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"}, headers=headers)
    assert answer.status_code == 401 and error_of(answer)["code"] == -32001
    still_serving(server)


def test_token_for_another_key(server):
    error = server.rpc("personal_sign", ["0x6869", OTHER], "app")["error"]
    assert error["code"] == -32000 and OTHER in error["message"]
    error = server.rpc("personal_sign", ["0x6869", ADDRESS], "other")["error"]
    assert error["code"] == -32000
    assert server.result("eth_accounts", [], "other") == [OTHER]
    still_serving(server)


def test_chain_id_the_client_may_not_use(server):
    error = server.rpc("eth_signTransaction", [{**TX, "chainId": "0x1"}], "app")["error"]
    assert error["code"] == 4001 and error["message"].startswith("User denied:") and "chain 1" in error["message"]
    auth = {"chainId": "0x0", "address": TO, "nonce": "0x0"}  # chain 0: valid on every chain
    assert server.rpc("signers_signAuthorization", [auth, ADDRESS], "app")["error"]["code"] == 4001
    still_serving(server)


def test_to_and_value_caps(server):
    other_to = "0x" + "33" * 20
    assert "allowlist" in server.rpc("eth_signTransaction", [{**TX, "to": other_to}], "app")["error"]["message"]
    assert server.rpc("eth_signTransaction", [{**TX, "value": "0xb"}], "app")["error"]["code"] == 4001
    assert Account.recover_transaction(server.result("eth_signTransaction", [TX], "app")) == ADDRESS
    still_serving(server)


@pytest.mark.parametrize("field, value", [("sidecars", []), ("maxFeePerDataGas", "0x1"), ("ccipReadEnabled", True)])
def test_a_field_it_cannot_honour_is_refused_never_dropped(server, field, value):
    error = server.rpc("eth_signTransaction", [{**TX, field: value}], "app")["error"]
    assert error["code"] == -32602 and field in error["message"]
    still_serving(server)


def test_bad_params_name_the_position_not_the_value(server):
    secret = "0x" + "5e" * 32 + "zz"
    error = server.rpc("personal_sign", [secret, ADDRESS], "app")["error"]
    assert error["code"] == -32602 and "params[0]" in error["message"] and "5e5e" not in str(error)
    still_serving(server)


def test_raw_digest_without_the_right(server):
    error = server.rpc("signers_signDigest", [ADDRESS, "0x" + "11" * 32], "app")["error"]
    assert error["code"] == 4001 and error["message"].startswith("User denied:")
    still_serving(server)


def test_slow_client_times_out(server):
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token('app')}\r\n"
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jsonrpc"'.encode()
        )
        sock.settimeout(10)
        started = time.monotonic()
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408"), reply
    assert time.monotonic() - started < 5  # body_timeout is 1 s
    still_serving(server)


def test_backend_dying_mid_request(server, kms, proxy):
    address, _ = kms
    assert server.result("personal_sign", ["0x01", address], "app")  # the KMS key works through the proxy
    proxy.always("Sign", "lose-response")  # KMS signs, then the connection dies unanswered
    try:
        error = server.rpc("personal_sign", ["0x02", address], "app")["error"]
    finally:
        proxy.always("Sign", None)
    assert error["code"] == -32603 and "unavailable" in error["message"]
    assert error["data"]["reason"] == "BackendUnavailableError"
    assert "Traceback" not in str(error)
    assert server.result("personal_sign", ["0x03", address], "app")
    metrics = httpx.get(server.metrics_url).text
    assert 'signers_backend_errors_total{backend="aws-kms",kind="BackendUnavailableError"} 1.0' in metrics
    still_serving(server)


def test_slow_backend_hits_the_request_timeout(server, kms, proxy):
    address, _ = kms
    proxy.always("Sign", ("delay", 6.0))
    try:
        started = time.monotonic()
        error = server.rpc("personal_sign", ["0x04", address], "app")["error"]
        assert time.monotonic() - started < 5.5  # request_timeout is 3 s
    finally:
        proxy.always("Sign", None)
    assert error["code"] == -32603 and "timed out" in error["message"]
    still_serving(server)


def test_rate_limit(server):
    answers = [server.post({"jsonrpc": "2.0", "id": i, "method": "eth_chainId"}, "limited") for i in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert error_of(answers[2])["code"] == -32005
    still_serving(server)
