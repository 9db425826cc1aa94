"""Helpers for the pkcs11 tests: keys the CLI would refuse to make (other curves, no CKA_SIGN, duplicates)."""

from __future__ import annotations

from typing import Any

import pytest
from pkcs11 import Attribute, KeyType, MechanismFlag
from pkcs11.util.ec import encode_named_curve_parameters

from tests.fixtures.softhsm import SoftHSMToken


def make_raw_key(token: SoftHSMToken, label: str, key_id: bytes, curve: str = "secp256k1", sign: bool = True) -> None:
    """A key pair generated on the device with python-pkcs11 directly, bypassing signers' checks."""
    oid = {"secp256k1": "1.3.132.0.10", "P-256": "secp256r1"}[curve]
    capabilities = (MechanismFlag.SIGN | MechanismFlag.VERIFY) if sign else MechanismFlag.DERIVE
    private: dict[Any, Any] = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: sign}
    with token.session() as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(oid)}, local=True
        )
        params.generate_keypair(store=True, label=label, id=key_id, capabilities=capabilities, private_template=private)


@pytest.fixture
def raw_key(softhsm: SoftHSMToken):  # type: ignore[no-untyped-def]
    def make(label: str, key_id: bytes, curve: str = "secp256k1", sign: bool = True) -> str:
        make_raw_key(softhsm, label, key_id, curve, sign)
        return softhsm.uri(object=label)

    return make
