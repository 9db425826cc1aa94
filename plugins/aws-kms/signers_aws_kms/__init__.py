"""signers-aws-kms: Ethereum signatures with secp256k1 keys held in AWS KMS.

    aws-kms://alias/payments?region=eu-west-1
    aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab?region=us-east-1&endpoint-url=http%3A%2F%2F127.0.0.1%3A4566
    aws-kms://arn:aws:kms:eu-west-1:111122223333:key/1234abcd-...

Credentials come from boto3's standard chain, never from the URI. The plugin template: hooks (entry points),
uri (the attributes), backend, errors (KMS -> signers errors), custody (the report), cli. boto3 is imported
when a backend or a command is first used, not with this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signers.lazy import lazy_exports

from .hooks import from_uri, register_backends, register_commands

if TYPE_CHECKING:
    from .backend import AwsKmsBackend
    from .uri import KeyRef, KmsSettings

__all__ = ["AwsKmsBackend", "KeyRef", "KmsSettings", "from_uri", "register_backends", "register_commands"]
__getattr__ = lazy_exports(__name__, {"AwsKmsBackend": ".backend", "KeyRef": ".uri", "KmsSettings": ".uri"})
