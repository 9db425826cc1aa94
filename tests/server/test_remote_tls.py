"""The Python client backend over TLS (``signers+https``) against a real ``signers serve`` with a private CA:
the server's certificate checked against ``ca-file``, an untrusted one refused with a clear error, and mutual
TLS where the client is known by its certificate alone (no token)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_account import Account
from eth_account.messages import encode_defunct

import signers
from signers.errors import AuthenticationError

from .conftest import LOCAL_KEY, RunningServer

TOKEN_ENV = "SIGNERS_TEST_TLS_TOKEN"


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_fingerprint: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    return path


def _issue(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer_key: ec.EllipticCurvePrivateKey, issuer: str, *, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A private CA, a server certificate for 127.0.0.1 and a client certificate, all P-256."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("signers test CA", ca_key, ca_key, "signers test CA", ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("127.0.0.1", server_key, ca_key, "signers test CA", ca=False)
    client = _issue("payments-app", client_key, ca_key, "signers test CA", ca=False)
    for path, cert in (("ca.pem", ca), ("server.pem", server), ("client.pem", client)):
        (tmp_path / path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Pki(
        tmp_path / "ca.pem",
        tmp_path / "server.pem",
        _write_key(server_key, tmp_path / "server.key"),
        tmp_path / "client.pem",
        _write_key(client_key, tmp_path / "client.key"),
        hashlib.sha256(client.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )


def _start_tls(
    start: Callable[..., RunningServer], config: dict[str, object], pki: Pki, client_cert: bool
) -> tuple[RunningServer, str]:
    """Start the service with TLS (ready when /upcheck answers over TLS): (the server, its HOST:PORT)."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if client_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    server = start(config, http_options={"verify": context})
    return server, server.url.split("://")[1].rstrip("/")


def test_https_with_a_private_ca(
    signers_server: Callable[..., RunningServer], local_key_env: str, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {
        "server": {"chain_id": 1},
        "tls": {"cert": str(pki.server_cert), "key": str(pki.server_key)},
        "keys": {"dev": {"uri": local_key_env}},
        "clients": {"app": {"keys": ["dev"]}},
    }
    server, authority = _start_tls(signers_server, config, pki, client_cert=False)
    address = Account.from_key(LOCAL_KEY).address
    token = server.token("app")
    monkeypatch.setenv(TOKEN_ENV, token)
    signer = signers.load_signer(f"signers+https://{authority}/dev?token-source=env:{TOKEN_ENV}&ca-file={pki.ca}")
    signed = signer.sign_message("over TLS")
    assert Account.recover_message(encode_defunct(text="over TLS"), signature=signed.signature) == address
    assert signer.backend.custody()["tls"] is True
    signer.close()

    with pytest.raises(AuthenticationError, match="not trusted") as untrusted:  # the system CAs do not know it
        signers.load_signer(f"signers+https://{authority}/dev?token-source=env:{TOKEN_ENV}")
    assert token not in str(untrusted.value)


def test_mutual_tls_client_known_by_its_certificate(
    signers_server: Callable[..., RunningServer], local_key_env: str, pki: Pki
) -> None:
    config = {
        "server": {"chain_id": 1},
        "tls": {"cert": str(pki.server_cert), "key": str(pki.server_key), "client_ca": str(pki.ca)},
        "keys": {"dev": {"uri": local_key_env}},
        "clients": {"machine": {"keys": ["dev"], "cert_sha256": pki.client_fingerprint}},
    }
    _, authority = _start_tls(signers_server, config, pki, client_cert=True)
    base = f"signers+https://{authority}/dev?ca-file={pki.ca}"
    signer = signers.load_signer(f"{base}&cert-file={pki.client_cert}&key-file={pki.client_key}")  # no token
    signed = signer.sign_message("mutual TLS")
    address = Account.from_key(LOCAL_KEY).address
    assert Account.recover_message(encode_defunct(text="mutual TLS"), signature=signed.signature) == address
    assert signer.backend.custody()["mutual_tls"] is True
    signer.close()
    with pytest.raises(signers.SignerError):  # without its certificate the client is nobody
        signers.load_signer(f"{base}&token-source=env:{TOKEN_ENV}")
