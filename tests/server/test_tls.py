"""TLS and mutual TLS, the Host allowlist and CORS, against a running service.

A throwaway CA (made here with `cryptography`) signs the server's certificate (for 127.0.0.1) and two
client certificates; one client is pinned by its certificate's fingerprint (no token), another identifies
itself with a token over the same mutual-TLS transport."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import socket
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_account import Account

from .conftest import LOCAL_KEY, LOCAL_KEY_ENV, LOCAL_KEY_URI

ADDRESS = Account.from_key(LOCAL_KEY).address


def _certificate(name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, server: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    certificate = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return certificate, key


def _write(
    directory: Path, name: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[str, str]:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def pki(tmp_path: Path) -> dict:
    ca = _certificate("signers test CA", None)
    out = {"ca": _write(tmp_path, "ca", *ca)[0]}
    out["server"] = _write(tmp_path, "server", *_certificate("127.0.0.1", ca, server=True))
    for name in ("pinned", "other"):
        certificate, key = _certificate(name, ca)
        out[name] = _write(tmp_path, name, certificate, key)
        out[name + "_sha256"] = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return out


def _context(pki: dict, client: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki["ca"])
    if client:
        context.load_cert_chain(*pki[client])
    return context


def test_mutual_tls_identifies_clients_by_certificate(signers_server, pki):
    server = signers_server(
        {
            "server": {"chain_id": 1},
            "tls": {"cert": pki["server"][0], "key": pki["server"][1], "client_ca": pki["ca"]},
            "keys": {"dev": {"uri": LOCAL_KEY_URI}},
            "clients": {"pinned": {"cert_sha256": pki["pinned_sha256"], "keys": ["dev"]}, "app": {"keys": ["dev"]}},
        },
        env=LOCAL_KEY_ENV,
        http_options={"verify": _context(pki, "pinned")},
    )
    assert server.url.startswith("https://")
    assert server.result("eth_accounts", [], None) == [ADDRESS]  # no token: the certificate says who it is
    other = {"verify": _context(pki, "other")}
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"}
    assert httpx.post(server.url, json=body, **other).status_code == 401  # a valid certificate, but not pinned
    headers = server.headers("app")
    assert httpx.post(server.url, json=body, headers=headers, **other).json()["result"] == [ADDRESS]
    with pytest.raises(httpx.TransportError):  # no client certificate: the handshake fails
        httpx.post(server.url, json=body, headers=headers, verify=_context(pki, None))
    with pytest.raises(httpx.TransportError):  # plain HTTP is not served
        httpx.post(server.url.replace("https", "http"), json=body, headers=headers)


def test_host_allowlist_and_cors(signers_server):
    server = signers_server(
        {
            "server": {"chain_id": 1, "allowed_hosts": ["127.0.0.1"], "cors_origins": ["https://app.example"]},
            "keys": {"dev": {"uri": LOCAL_KEY_URI}},
            "clients": {"app": {"keys": ["dev"]}},
        },
        env=LOCAL_KEY_ENV,
    )
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"}
    headers = server.headers("app")
    assert httpx.post(server.url, json=body, headers={**headers, "Host": "evil.example"}).status_code == 400
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    allowed = httpx.options(server.url, headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    refused = httpx.options(server.url, headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers
    assert server.result("eth_accounts", [], "app") == [ADDRESS]


def test_cors_off_by_default_and_the_default_hosts(signers_server):
    server = signers_server(
        {"server": {"chain_id": 1}, "keys": {"dev": {"uri": LOCAL_KEY_URI}}, "clients": {"app": {"keys": ["dev"]}}},
        env=LOCAL_KEY_ENV,
    )
    answer = httpx.post(
        server.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"},
        headers={**server.headers("app"), "Origin": "https://app.example"},
    )  # fmt: skip
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"}
    for host, status in (("[::1]:8550", 200), ("localhost", 200), ("[::2]:8550", 400), ("127.0.0.1.evil.example", 400)):
        answer = httpx.post(server.url, json=body, headers={**server.headers("app"), "Host": host})
        assert answer.status_code == status, host
    # a Host header cannot smuggle another host in before an allowed one (raw HTTP: clients never send two)
    raw = json.dumps(body).encode()
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token('app')}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
            + raw
        )
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")
