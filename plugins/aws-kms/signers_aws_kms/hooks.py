"""The plugin's entry points: the ``aws-kms`` URI scheme and the ``signers aws-kms`` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signers.hookspecs import Register, hookimpl

from .uri import SCHEME

if TYPE_CHECKING:
    import click

    from signers.uri import SignerURI

    from .backend import AwsKmsBackend


def from_uri(uri: SignerURI, **options: Any) -> AwsKmsBackend:
    """The backend for an ``aws-kms://`` URI. Options: ``session`` (a boto3.Session) and the KmsSettings
    fields (``rate_limit``, ``max_attempts``, ``connect_timeout``, ``read_timeout``, ...)."""
    from .backend import AwsKmsBackend
    from .uri import parse_target

    session = options.pop("session", None)
    return AwsKmsBackend(parse_target(uri, options), session=session)


@hookimpl
def register_backends(register: Register) -> None:
    register(SCHEME, from_uri, "secp256k1 keys in AWS KMS (boto3; LocalStack via endpoint-url=)")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import aws_kms

    cli.add_command(aws_kms)
