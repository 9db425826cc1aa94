"""The Cloud KMS custody report against the emulator: a generated HSM version has no warning, a disabled one is
warned (the emulator has no import jobs or software secp256k1 keys: those warnings are Cloud KMS's only)."""

from __future__ import annotations

from typing import Any

from eth_hash.auto import keccak

import signers
from signers.custody import CustodyReport, disabled


def test_an_hsm_version_has_no_warning_until_disabled(gcp_kms_emulator: Any) -> None:
    version = gcp_kms_emulator.create_key()
    with signers.load_signer(gcp_kms_emulator.uri(version)) as signer:
        digest = keccak(b"custody report")
        assert signer.sign_digest(digest).recover(digest) == signer.address
        report = signer.backend.custody()
        assert isinstance(report, CustodyReport) and report.address == signer.address
        assert (report.kind, report.extractable, report.generated_in_hardware) == ("cloud-kms", False, True)
        assert report.state == "ENABLED" and report.warnings == ()
        assert report["protection_level"] == "HSM" and report["imported"] is False

        gcp_kms_emulator.set_state(version, "DISABLED")
        report = signer.backend.custody()
    assert report.state == "DISABLED" and report.warnings == (disabled("DISABLED"),)
    assert report.address is None  # a disabled version tells no public key; `signers custody` fills the signer's
