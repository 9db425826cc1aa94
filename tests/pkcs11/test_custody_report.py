"""The PKCS#11 custody report on SoftHSM: each warning where it should be, none where it should not."""

from __future__ import annotations

import json
import os
from typing import Any

from eth_account import Account
from eth_hash.auto import keccak
from pkcs11 import Attribute, KeyType, MechanismFlag
from pkcs11.util.ec import encode_named_curve_parameters

import signers
from signers.custody import SOFTWARE_HSM, CustodyReport
from tests.fixtures.softhsm import SoftHSMToken


def _report(uri: str) -> tuple[CustodyReport, str]:
    with signers.load_signer(uri) as signer:
        digest = keccak(b"custody report")
        assert signer.sign_digest(digest).recover(digest) == signer.address  # the key behind the report signs
        return signer.backend.custody(), signer.address


def test_a_keygen_key_warns_only_of_the_software_token(softhsm: SoftHSMToken) -> None:
    report, address = _report(softhsm.generate_key())
    assert report.address == address and report.kind == "software" and report.state == "enabled"
    assert report.extractable is False and report.generated_in_hardware is False  # SoftHSM is no hardware
    assert report.warnings == (SOFTWARE_HSM,)
    attributes = report["key"]["attributes"]
    assert attributes["MODIFIABLE"] is False and attributes["COPYABLE"] is False  # keygen makes it final
    assert os.environ[softhsm.pin_env] not in json.dumps(report)


def test_a_permissive_key_gets_every_warning(softhsm: SoftHSMToken) -> None:
    """A key made with the token's permissive defaults (by another tool): extractable, usable for key derivation
    and signature recovery, still modifiable and copyable, no mechanism restriction."""
    label = softhsm.new_label("permissive")
    private: dict[Any, Any] = {
        Attribute.SIGN: True,
        Attribute.DERIVE: True,
        Attribute.EXTRACTABLE: True,
        Attribute.SENSITIVE: True,
        Attribute.MODIFIABLE: True,
        Attribute.COPYABLE: True,
    }
    with softhsm.session() as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("1.3.132.0.10")}, local=True
        )
        params.generate_keypair(
            store=True,
            label=label,
            id=b"\x70\x65",
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY | MechanismFlag.DERIVE,
            private_template=private,
        )
    report, _ = _report(softhsm.uri(object=label))
    assert report.extractable is True and report.generated_in_hardware is False
    assert list(report.warnings) == [
        "EXTRACTABLE is true: the key can be exported (wrapped) from the token",
        "the key was not generated on this token or was extractable once: copies may exist elsewhere",
        "DERIVE is allowed: the key is not sign-only",
        "SIGN_RECOVER is allowed: the key is not sign-only",  # SoftHSM's default, unless the template says no
        "MODIFIABLE is true: the key's attributes can still be changed (to allow DERIVE or DECRYPT, say)",
        "COPYABLE is true: the token can copy the key object (C_CopyObject), with other attributes",
        "CKA_ALLOWED_MECHANISMS is not set: any signing mechanism may use the key",
        SOFTWARE_HSM,
    ]


def test_an_imported_key_warns_that_copies_may_exist(softhsm: SoftHSMToken) -> None:
    account = Account.create()
    report, address = _report(softhsm.import_key(bytes(account.key)))
    assert address == account.address and report.address == account.address
    assert report.generated_in_hardware is False and report.extractable is False
    assert report.warnings == (
        "the key was not generated on this token or was extractable once: copies may exist elsewhere",
        SOFTWARE_HSM,
    )
    assert account.key.hex() not in json.dumps(report)
