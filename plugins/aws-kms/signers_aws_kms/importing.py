"""Bring an existing secp256k1 private key into KMS (ImportKeyMaterial), for migrating a hot key to custody.

AWS wants asymmetric key material as PKCS#8 DER, encrypted with the public wrapping key from
GetParametersForImport under RSAES_OAEP_SHA_256. The plaintext exists only in this process, only for the
duration of the call; the KMS key is reported with origin EXTERNAL ever after (a copy existed outside).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from signers.errors import ConfigurationError
from signers.keys import PublicKey

from .connection import KmsConnection

WRAPPING_ALGORITHM = "RSAES_OAEP_SHA_256"


def address_of(private_key: bytes) -> str:
    key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return PublicKey(point).address


def wrap_key_material(private_key: bytes, wrapping_public_key: bytes) -> bytes:
    """PKCS#8 DER of the key, RSA-OAEP(SHA-256)-encrypted to the DER wrapping public key KMS handed out."""
    key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    wrapping = serialization.load_der_public_key(wrapping_public_key)
    if not isinstance(wrapping, rsa.RSAPublicKey):
        raise ConfigurationError(
            "KMS returned a wrapping key that is not RSA",
            hint="the endpoint does not behave like AWS KMS: check --endpoint-url; nothing was imported",
        )
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return wrapping.encrypt(pkcs8, oaep)


def import_key_material(
    connection: KmsConnection, key_id: str, private_key: bytes, wrapping_key_spec: str = "RSA_4096"
) -> dict[str, Any]:
    """Import into a key created with Origin=EXTERNAL (state PendingImport). Returns the ImportKeyMaterial
    response; the key material never expires (the caller keeps custody of nothing afterwards)."""
    parameters = connection.call(
        "get_parameters_for_import",
        key_id,
        KeyId=key_id,
        WrappingAlgorithm=WRAPPING_ALGORITHM,
        WrappingKeySpec=wrapping_key_spec,
    )
    # not retried after a lost answer: the import token is single-use, and whether it means "imported" is for the
    # caller to check (the key leaves PendingImport), not for a blind second import
    return connection.call(
        "import_key_material",
        key_id,
        idempotent=False,
        KeyId=key_id,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_key_material(private_key, parameters["PublicKey"]),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
