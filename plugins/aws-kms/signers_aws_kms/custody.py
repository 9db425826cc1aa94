"""The custody report of a KMS key: where the material came from, who manages it, where it is replicated,
its state, which aliases name it, and what a reviewer should know (an imported key, a disabled one, a key
usage beyond signing, replicas). Tags are left out on purpose: LocalStack keeps custom key material in a tag,
and tags are free text a reviewer should read in the console, not in a log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from signers import custody
from signers.custody import CustodyReport
from signers.errors import AuthenticationError, SignerError

from .connection import KmsConnection

ORIGINS = {
    "AWS_KMS": "generated inside AWS KMS HSMs (FIPS 140-3 validated); the private key never leaves them",
    "EXTERNAL": "imported (bring your own key): a copy of the private key existed outside AWS KMS",
    "AWS_CLOUDHSM": "custom key store: generated and held in your AWS CloudHSM cluster",
    "EXTERNAL_KEY_STORE": "external key store (XKS): held in a key manager outside AWS",
}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


#: origins whose key material was generated inside HSMs (AWS KMS's own, or a CloudHSM cluster)
GENERATED_IN_HARDWARE = {"AWS_KMS": True, "AWS_CLOUDHSM": True, "EXTERNAL": False}


def report(connection: KmsConnection, subject: str, metadata: dict[str, Any], address: str | None) -> CustodyReport:
    details = facts(connection, subject, metadata)
    state = str(metadata.get("KeyState"))
    return CustodyReport(
        backend=subject,
        kind="cloud-kms",
        custody="AWS KMS",
        address=address,
        extractable=False,  # KMS has no export of asymmetric private keys
        generated_in_hardware=GENERATED_IN_HARDWARE.get(str(metadata.get("Origin"))),
        state=state,
        warnings=warnings(metadata),
        details=details,
    )


def warnings(metadata: dict[str, Any]) -> tuple[str, ...]:
    out = []
    origin, state, usage = metadata.get("Origin"), metadata.get("KeyState"), metadata.get("KeyUsage")
    if origin == "EXTERNAL":
        out.append(custody.imported("Origin EXTERNAL, bring your own key material"))
    elif origin == "EXTERNAL_KEY_STORE":
        out.append("the key is held in an external key store (XKS), by a key manager outside AWS")
    if state != "Enabled":
        out.append(custody.disabled(str(state)))
    if usage != "SIGN_VERIFY":
        out.append(custody.NOT_SIGN_ONLY.format(what=f"KeyUsage {usage}"))
    if metadata.get("MultiRegion"):
        out.append("multi-region key: the same key material is (or can be) replicated to other regions")
    return tuple(out)


def facts(connection: KmsConnection, subject: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The details only KMS has, beside the report's common fields."""
    arn = metadata["Arn"]
    origin = metadata.get("Origin")
    facts: dict[str, Any] = {
        "endpoint": connection.endpoint,
        "region": arn.split(":")[3],
        "account": metadata.get("AWSAccountId"),
        "key_id": metadata.get("KeyId"),
        "arn": arn,
        "origin": origin,
        "origin_meaning": ORIGINS.get(str(origin), "unknown origin"),
        "key_manager": metadata.get("KeyManager"),
        "multi_region": bool(metadata.get("MultiRegion")),
        "creation_date": _iso(metadata.get("CreationDate")),
        "enabled": metadata.get("Enabled"),
        "key_spec": metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec"),
        "key_usage": metadata.get("KeyUsage"),
        "signing_algorithms": metadata.get("SigningAlgorithms", []),
        "description": metadata.get("Description", ""),
    }
    region_config = metadata.get("MultiRegionConfiguration")
    if region_config:
        facts["multi_region_configuration"] = {
            "type": region_config.get("MultiRegionKeyType"),
            "primary": region_config.get("PrimaryKey", {}).get("Arn"),
            "replicas": [replica.get("Arn") for replica in region_config.get("ReplicaKeys", [])],
        }
    for field, name in (("DeletionDate", "deletion_date"), ("ValidTo", "key_material_expires")):
        if metadata.get(field):
            facts[name] = _iso(metadata[field])
    if origin == "EXTERNAL" and "ExpirationModel" in metadata:
        facts["expiration_model"] = metadata["ExpirationModel"]
    for field, name in (("CustomKeyStoreId", "custom_key_store_id"), ("CloudHsmClusterId", "cloudhsm_cluster_id")):
        if metadata.get(field):
            facts[name] = metadata[field]
    facts["aliases"] = _aliases(connection, subject, arn)
    facts["key_policy"] = _policy(connection, subject, arn)
    return facts


def _aliases(connection: KmsConnection, subject: str, arn: str) -> list[str] | str:
    try:
        names: list[str] = []
        marker: str | None = None
        while True:
            paging: dict[str, Any] = {"Marker": marker} if marker else {}
            page = connection.call("list_aliases", subject, KeyId=arn, **paging)
            names += [alias["AliasName"] for alias in page.get("Aliases", [])]
            marker = page.get("NextMarker") if page.get("Truncated") else None
            if not marker:
                return names
    except AuthenticationError:
        return "not readable with these credentials (kms:ListAliases)"


def _policy(connection: KmsConnection, subject: str, arn: str) -> Any:
    try:
        text = connection.call("get_key_policy", subject, KeyId=arn, PolicyName="default").get("Policy", "")
    except AuthenticationError:
        return "not readable with these credentials (kms:GetKeyPolicy)"
    except SignerError as error:
        return f"unavailable: {error.message}"
    try:
        return json.loads(text)
    except ValueError:
        return text
