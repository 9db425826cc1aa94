"""signers-aws-kms: Ethereum signatures with secp256k1 keys held in AWS KMS.

    aws-kms://alias/payments?region=eu-west-1
    aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab?region=us-east-1&endpoint-url=http%3A%2F%2F127.0.0.1%3A4566
    aws-kms://arn:aws:kms:eu-west-1:111122223333:key/1234abcd-...

Credentials come from boto3's standard chain, never from the URI. See target.py for the attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signers.hookspecs import Register, hookimpl
from signers.uri import SignerURI

from .backend import AwsKmsBackend
from .target import SCHEME, KeyRef, KmsSettings, parse_target

if TYPE_CHECKING:
    import click

__all__ = ["AwsKmsBackend", "KeyRef", "KmsSettings", "from_uri"]


def from_uri(uri: SignerURI, **options: Any) -> AwsKmsBackend:
    """The backend for an ``aws-kms://`` URI. Options: ``session`` (a boto3.Session) and the KmsSettings
    fields (``rate_limit``, ``max_attempts``, ``connect_timeout``, ``read_timeout``, ...)."""
    session = options.pop("session", None)
    return AwsKmsBackend(parse_target(uri, options), session=session)


@hookimpl
def register_backends(register: Register) -> None:
    register(SCHEME, from_uri, "secp256k1 keys in AWS KMS (boto3; LocalStack via endpoint-url=)")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import aws_kms

    cli.add_command(aws_kms)
