"""The custody report of a Cloud KMS key version: protection level, algorithm, state, times, import job, and
what a reviewer should know (an imported or import-only key, a version not enabled, a key held in software
or outside Google, a purpose beyond signing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.cloud import kms_v1 as kms

from signers import custody
from signers.custody import CustodyReport

if TYPE_CHECKING:
    from .backend import GcpKmsBackend

Algorithm = kms.CryptoKeyVersion.CryptoKeyVersionAlgorithm
State = kms.CryptoKeyVersion.CryptoKeyVersionState
Level = kms.ProtectionLevel


def report(
    backend: GcpKmsBackend, key: kms.CryptoKey, version: kms.CryptoKeyVersion, address: str | None
) -> CustodyReport:
    level = Level(version.protection_level)
    imported = bool(version.import_job)
    return CustodyReport(
        backend=backend.describe(),
        kind="cloud-kms",
        custody="Google Cloud KMS",
        address=address,
        extractable=False,  # Cloud KMS has no export of private keys
        generated_in_hardware=None if level not in (Level.HSM, Level.SOFTWARE) else level == Level.HSM and not imported,
        state=State(version.state).name,
        warnings=warnings(key, version),
        details=details(backend, key, version),
    )


def warnings(key: kms.CryptoKey, version: kms.CryptoKeyVersion) -> tuple[str, ...]:
    out = []
    level, state = Level(version.protection_level), State(version.state)
    if version.import_job:
        out.append(custody.imported(f"import job {version.import_job}"))
    if key.import_only:
        out.append("the key is import-only: its versions are key material brought in from outside")
    if state != State.ENABLED:
        out.append(custody.disabled(state.name))
    if level == Level.SOFTWARE:
        out.append("protection level SOFTWARE: Cloud KMS holds the key in software, not in an HSM")
    elif level not in (Level.HSM, Level.SOFTWARE):
        out.append(f"protection level {level.name}: the key is held by a key manager outside Google")
    purpose = kms.CryptoKey.CryptoKeyPurpose(key.purpose)
    if purpose != kms.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN:
        out.append(custody.NOT_SIGN_ONLY.format(what=f"purpose {purpose.name}"))
    return tuple(out)


def details(backend: GcpKmsBackend, key: kms.CryptoKey, version: kms.CryptoKeyVersion) -> dict[str, Any]:
    """What only Cloud KMS knows, beside the report's common fields."""
    parts = backend.name.split("/")
    return {
        "service": f"emulator at {backend.endpoint}" if backend.endpoint else "cloudkms.googleapis.com (ADC)",
        "project": parts[1],
        "location": parts[3],
        "key_ring": parts[5],
        "crypto_key": parts[7],
        "version": int(parts[9]),
        "protection_level": Level(version.protection_level).name,
        "algorithm": Algorithm(version.algorithm).name,
        "purpose": kms.CryptoKey.CryptoKeyPurpose(key.purpose).name,
        "created": _iso(version.create_time),
        "generated": _iso(version.generate_time),
        "key_created": _iso(key.create_time),
        "imported": bool(version.import_job),
        "import_job": version.import_job or None,
        "import_time": _iso(version.import_time),
        "destroy_time": _iso(version.destroy_time),
        "destroy_scheduled_duration_s": key.destroy_scheduled_duration.total_seconds()
        if "destroy_scheduled_duration" in key
        else None,
        "import_only": key.import_only,
        "labels": dict(key.labels),
        "hsm_attestation": kms.KeyOperationAttestation.AttestationFormat(version.attestation.format).name
        if "attestation" in version
        else None,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None
