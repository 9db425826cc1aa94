"""The plugin's entry points: the ``pkcs11`` URI scheme and the ``signers pkcs11`` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signers.hookspecs import Register, hookimpl

if TYPE_CHECKING:
    import click

    from signers.uri import SignerURI

    from .backend import Pkcs11Backend


def from_uri(uri: SignerURI, **options: Any) -> Pkcs11Backend:
    if options:
        from signers.errors import ConfigurationError

        raise ConfigurationError(f"pkcs11: unknown option(s) {', '.join(sorted(options))}", hint="put them in the URI")
    from .backend import Pkcs11Backend
    from .uri import parse_pkcs11_uri

    return Pkcs11Backend(parse_pkcs11_uri(uri))


@hookimpl
def register_backends(register: Register) -> None:
    register("pkcs11", from_uri, "keys in a PKCS#11 token or HSM (RFC 7512 URIs)")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import pkcs11_group

    cli.add_command(pkcs11_group)
