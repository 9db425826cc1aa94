"""The plugin's entry points: the ``gcp-kms`` URI scheme and the ``signers gcp-kms`` commands.
google-cloud-kms is imported on first use only, so that every `signers` command does not pay for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signers.hookspecs import Register, hookimpl

if TYPE_CHECKING:
    import click

    from signers.uri import SignerURI

    from .backend import GcpKmsBackend


def from_uri(uri: SignerURI, **options: Any) -> GcpKmsBackend:
    from .uri import from_uri as factory

    return factory(uri, **options)


@hookimpl
def register_backends(register: Register) -> None:
    register("gcp-kms", from_uri, "secp256k1 key versions in Google Cloud KMS (HSM)")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import gcp_kms

    cli.add_command(gcp_kms)
