"""signers-pkcs11: Ethereum signing with secp256k1 keys held in a PKCS#11 token (HSM, SoftHSM2...).

    signer = signers.load_signer("pkcs11:token=prod;object=session-1?pin-source=env:HSM_PIN")

URIs follow RFC 7512 (``signers_pkcs11.uri``). Thread safety and fault recovery are described in
``signers_pkcs11.module``; multi-core throughput comes from ``signers_pkcs11.pool.SigningPool``. Key
lifecycle commands: ``signers pkcs11 keygen | import | list | tokens`` (``signers_pkcs11.cli``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signers.hookspecs import Register, hookimpl
from signers.uri import SignerURI

from .backend import Pkcs11Backend
from .uri import Pkcs11URI, parse_pkcs11_uri

if TYPE_CHECKING:
    import click

__all__ = ["Pkcs11Backend", "Pkcs11URI", "from_uri", "parse_pkcs11_uri"]


def from_uri(uri: SignerURI, **options: Any) -> Pkcs11Backend:
    if options:
        from signers.errors import ConfigurationError

        raise ConfigurationError(f"pkcs11: unknown option(s) {', '.join(sorted(options))}", hint="put them in the URI")
    return Pkcs11Backend(parse_pkcs11_uri(uri))


@hookimpl
def register_backends(register: Register) -> None:
    register("pkcs11", from_uri, "keys in a PKCS#11 token or HSM (RFC 7512 URIs)")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import pkcs11_group

    cli.add_command(pkcs11_group)
