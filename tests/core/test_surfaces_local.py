"""The backend conformance kit (signers.testing.conformance) on the local backend: the kit itself must pass on the
reference before it means anything for the others."""

from __future__ import annotations

import os
import secrets

import pytest

import signers
from signers import Signer
from signers.testing.conformance import SignerConformance


@pytest.fixture(scope="module")
def signer() -> Signer:
    os.environ["SURFACES_LOCAL_KEY"] = "0x" + secrets.token_hex(32)
    return signers.load_signer("local:env:SURFACES_LOCAL_KEY")


class TestConformance(SignerConformance):
    pass
