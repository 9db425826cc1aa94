"""Fixtures of the AWS KMS tests: a deterministic key, signers over it, and the fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import signers
from signers import Signer
from tests.aws_kms.fault_proxy import FaultProxy
from tests.fixtures.localstack import KmsTestKey, LocalStack

# a fixed private key: the key's address is known before KMS is asked (LocalStack custom key material)
FIXED_PRIVATE_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
FIXED_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"


@pytest.fixture(scope="module")
def fixed_key(localstack: LocalStack) -> KmsTestKey:
    return localstack.create_key(private_key=FIXED_PRIVATE_KEY)


@pytest.fixture(scope="module")
def fixed_signer(fixed_key: KmsTestKey) -> Iterator[Signer]:
    with signers.load_signer(fixed_key.uri) as signer:
        yield signer


@pytest.fixture
def proxy(localstack: LocalStack) -> Iterator[FaultProxy]:
    proxy = FaultProxy(localstack.port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
