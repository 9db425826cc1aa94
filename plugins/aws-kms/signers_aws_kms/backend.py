"""The AWS KMS backend: ``Sign`` with ``MessageType=DIGEST`` and ``ECDSA_SHA_256`` returns a DER signature
over exactly the 32-byte digest; the core makes it an Ethereum signature and checks it.

An alias can be re-pointed to another key at any time. The backend signs through the identifier it was
given (so an alias keeps its meaning), but every Sign response names the key that signed: when that is not
the key whose address the signer was loaded with, the signature is discarded and ``KeyChangedError`` names
both keys and both addresses. The core's self-check is the second line (``on_invalid_signature``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3

from signers.backend import Backend
from signers.custody import CustodyReport
from signers.errors import KeyChangedError, KeyDisabledError, KeyUsageError, SignatureVerificationError, WrongCurveError
from signers.keys import PublicKey

from . import custody
from .connection import KmsConnection
from .uri import KeyRef

KEY_SPEC = "ECC_SECG_P256K1"
SIGNING_ALGORITHM = "ECDSA_SHA_256"


class AwsKmsBackend(Backend):
    signature_format = "der"
    invalid_signature_retries = 0  # KMS does not produce invalid signatures; a mismatch means another key

    def __init__(self, ref: KeyRef, *, session: boto3.Session | None = None, connection: KmsConnection | None = None):
        self.ref = ref
        self.connection = connection or KmsConnection(ref.settings, session)
        # name the region actually used (it may come from the environment) so logs and audits are unambiguous
        self._subject = KeyRef(ref.key, replace(ref.settings, region=self.connection.region)).uri()
        self._key_arn: str | None = None  # the key the signer was loaded with (resolved from an alias)
        self._address: str | None = None

    # -- the Backend contract -----------------------------------------------------------------------
    def public_key(self) -> PublicKey:
        metadata = self.describe_key()
        check_usable(metadata, self._subject)
        # fetch by ARN: the same key that was just checked, even if the alias moves meanwhile
        response = self.connection.call("get_public_key", self._subject, KeyId=metadata["Arn"])
        key = PublicKey.from_spki(response["PublicKey"])
        self._key_arn, self._address = metadata["Arn"], key.address
        return key

    def sign(self, digest: bytes) -> bytes:
        response = self.connection.call(
            "sign",
            self._subject,
            KeyId=self.ref.key,
            Message=digest,
            MessageType="DIGEST",
            SigningAlgorithm=SIGNING_ALGORITHM,
        )
        signer_arn = response.get("KeyId")
        if self._key_arn is not None and signer_arn and signer_arn != self._key_arn:
            self._raise_key_changed(signer_arn)
        signature: bytes = response["Signature"]
        return signature

    def on_invalid_signature(self, error: SignatureVerificationError) -> None:
        # a signature that does not verify for our address: find out whether the alias moved
        if self._key_arn is None:
            return
        current = self.describe_key()["Arn"]
        if current != self._key_arn:
            self._raise_key_changed(current)

    def describe(self) -> str:
        return self._subject

    def custody(self) -> CustodyReport:
        metadata = self.describe_key()
        address = self._address  # a disabled key does not tell its public key
        if metadata.get("KeySpec") == KEY_SPEC and metadata.get("KeyState") == "Enabled":
            response = self.connection.call("get_public_key", self._subject, KeyId=metadata["Arn"])
            address = PublicKey.from_spki(response["PublicKey"]).address
        return custody.report(self.connection, self._subject, metadata, address)

    def close(self) -> None:
        self.connection.client.close()

    def create_like(self, label: str | None = None) -> str:
        """A new secp256k1 sign-only key in the same account and region (same connection settings), under this
        key's key policy; ``label`` is its description. Returns its URI (by key id)."""
        metadata = self.describe_key()
        policy = self.connection.call("get_key_policy", self._subject, KeyId=metadata["Arn"], PolicyName="default")
        # not retried after a lost answer: a second CreateKey would leave an orphan key
        created = self.connection.call(
            "create_key", self._subject, idempotent=False,
            KeySpec=KEY_SPEC, KeyUsage="SIGN_VERIFY", Origin="AWS_KMS", Policy=policy["Policy"],
            Description=label or f"created like {metadata['KeyId']} (signers create_like)",
        )["KeyMetadata"]  # fmt: skip
        return KeyRef(created["KeyId"], self.ref.settings).uri()

    # -- helpers ----------------------------------------------------------------------------------------
    def describe_key(self) -> dict[str, Any]:
        metadata: dict[str, Any] = self.connection.call("describe_key", self._subject, KeyId=self.ref.key)[
            "KeyMetadata"
        ]
        return metadata

    def _raise_key_changed(self, actual_arn: str) -> None:
        try:
            response = self.connection.call("get_public_key", self._subject, KeyId=actual_arn)
            actual_address = PublicKey.from_spki(response["PublicKey"]).address
        except Exception:  # the other key may not even be secp256k1; the error must still be the change
            actual_address = "unknown"
        raise KeyChangedError(
            f"{self._subject} now resolves to key {actual_arn} (address {actual_address}), not to "
            f"{self._key_arn} (address {self._address}) that this signer was loaded with; the signature was discarded",
            expected=self._address or "",
            actual=actual_address,
            hint="if the alias was re-pointed on purpose, load the signer again (and update whatever trusts the "
            "old address); otherwise point the alias back",
        )


def check_usable(metadata: dict[str, Any], subject: str) -> None:
    """KeySpec ECC_SECG_P256K1, KeyUsage SIGN_VERIFY, KeyState Enabled, or a clear error."""
    # usage first: a default (symmetric ENCRYPT_DECRYPT) key is a usage mistake before it is a curve one
    usage = metadata.get("KeyUsage")
    if usage != "SIGN_VERIFY":
        raise KeyUsageError(f"{subject}: the key's usage is {usage}, not SIGN_VERIFY")
    spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    if spec != KEY_SPEC:
        raise WrongCurveError(f"{subject}: the key is {spec}, not {KEY_SPEC} (secp256k1)")
    algorithms = metadata.get("SigningAlgorithms") or [SIGNING_ALGORITHM]
    if SIGNING_ALGORITHM not in algorithms:
        raise KeyUsageError(f"{subject}: the key does not allow {SIGNING_ALGORITHM} (allows {', '.join(algorithms)})")
    state = metadata.get("KeyState")
    if state == "Enabled":
        return
    if state == "PendingDeletion":
        when = metadata.get("DeletionDate")
        raise KeyDisabledError(
            f"{subject}: the key is pending deletion" + (f" (scheduled for {when:%Y-%m-%d %H:%M %Z})" if when else ""),
            hint="cancel the deletion (aws kms cancel-key-deletion) and enable the key, if it is still wanted",
        )
    if state == "PendingImport":
        raise KeyDisabledError(
            f"{subject}: the key has no key material (PendingImport)",
            hint="import the key material (signers aws-kms import) or use another key",
        )
    if state == "Disabled":
        raise KeyDisabledError(f"{subject}: the key is disabled")
    raise KeyDisabledError(f"{subject}: the key is in state {state}, not Enabled")
