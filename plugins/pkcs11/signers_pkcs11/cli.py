"""``signers pkcs11 ...``: key lifecycle on a PKCS#11 token.

    signers pkcs11 keygen --token T --label session-1        secp256k1 generated on the device, sign-only
    signers pkcs11 import --token T --label old --key-source env:OLD_KEY   an existing key (a migration)
    signers pkcs11 list   --token T                          keys with their addresses and origin
    signers pkcs11 tokens                                    the module's tokens (no login)

The module comes from --module or $PKCS11_MODULE, the PIN from --pin-source or $PKCS11_PIN_SOURCE
(env:NAME or file:PATH; never a PIN on the command line). Results go to stdout (--json for machines).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from signers.cli_errors import ErrorsGroup
from signers.errors import ConfigurationError
from signers.keys import parse_private_key
from signers.secrets import read_secret

from . import keys
from .module import TokenSession, get_module
from .uri import Pkcs11URI

F = TypeVar("F", bound=Callable[..., Any])


def _module_option(fn: F) -> F:
    return click.option(
        "--module", "module_path", envvar="PKCS11_MODULE", required=True, help="PKCS#11 module (.so) [$PKCS11_MODULE]"
    )(fn)


def _token_options(fn: F) -> F:
    fn = click.option(
        "--pin-source",
        envvar="PKCS11_PIN_SOURCE",
        required=True,
        help="where the user PIN is: env:NAME or file:PATH [$PKCS11_PIN_SOURCE]",
    )(fn)
    fn = click.option("--token", "token_label", required=True, help="token label")(fn)
    return _module_option(fn)


def _parse_id(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        value = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ConfigurationError("--id must be hex bytes", hint="e.g. --id 01a2 (the value is not shown)") from None
    if not value:
        raise ConfigurationError("--id must not be empty", hint="give hex bytes, e.g. --id 01, or leave --id out")
    return value


def _with_session(module_path: str, token_label: str, pin_source: str, work: Callable[[Any, str], Any]) -> Any:
    module = get_module(module_path)
    selector = Pkcs11URI(module_path=module_path, token=token_label, pin_source=pin_source)
    with module.lock:
        tokens: TokenSession = module.token_session(module.find_token(selector))
        return work(tokens.get(pin_source), f"token {token_label!r}")


def _key_uri(module_path: str, token: str, key_id: bytes, label: str, pin_source: str) -> str:
    uri = Pkcs11URI(module_path=module_path, token=token, object=label, id=key_id, pin_source=pin_source)
    return uri.text()


@click.group("pkcs11", cls=ErrorsGroup)
def pkcs11_group() -> None:
    """Keys in a PKCS#11 token or HSM: generate, import, list."""


@pkcs11_group.command("keygen")
@_token_options
@click.option("--label", required=True, help="the key's label (CKA_LABEL), unique on the token")
@click.option("--id", "key_id", help="the key's id (CKA_ID) in hex; random 8 bytes by default")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def keygen(module_path: str, token_label: str, pin_source: str, label: str, key_id: str | None, as_json: bool) -> None:
    """Generate a secp256k1 key on the device: SENSITIVE, not EXTRACTABLE, sign-only. Prints its address."""
    public, made_id = _with_session(
        module_path, token_label, pin_source, lambda s, where: keys.generate_key(s, label, _parse_id(key_id), where)
    )
    uri = _key_uri(module_path, token_label, made_id, label, pin_source)
    origin = "generated on the device, never extractable"
    _report_key(public.address, label, made_id, token_label, uri, origin, as_json)
    if not as_json:
        click.echo(f"generated on token {token_label!r}: label {label!r}, id {made_id.hex()}; URI: {uri}", err=True)


def _report_key(address: str, label: str, key_id: bytes, token: str, uri: str, origin: str, as_json: bool) -> None:
    """What keygen and import print on stdout: the address, or everything as JSON."""
    if as_json:
        record = {"address": address, "label": label, "id": key_id.hex(), "token": token, "uri": uri, "origin": origin}
        click.echo(json.dumps(record))
    else:
        click.echo(address)


@pkcs11_group.command("import")
@_token_options
@click.option("--label", required=True, help="the key's label (CKA_LABEL), unique on the token")
@click.option("--id", "key_id", help="the key's id (CKA_ID) in hex; random 8 bytes by default")
@click.option("--key-source", required=True, help="where the hex private key is: env:NAME or file:PATH")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def import_(
    module_path: str,
    token_label: str,
    pin_source: str,
    label: str,
    key_id: str | None,
    key_source: str,
    as_json: bool,
) -> None:
    """Store an existing private key on the token (a migration). It is reported as once extractable."""
    private = parse_private_key(read_secret(key_source, "key").reveal(), key_source)
    public, made_id = _with_session(
        module_path,
        token_label,
        pin_source,
        lambda s, where: keys.import_key(s, label, _parse_id(key_id), private, where),
    )
    origin = "imported: the key existed outside the device (once extractable)"
    uri = _key_uri(module_path, token_label, made_id, label, pin_source)
    _report_key(public.address, label, made_id, token_label, uri, origin, as_json)
    if not as_json:
        click.echo(
            f"imported to token {token_label!r}: label {label!r}, id {made_id.hex()}; URI: {uri}\n"
            "warning: this key existed outside the HSM (CKA_NEVER_EXTRACTABLE=false, CKA_LOCAL=false); copies may "
            "exist: custody reports will say so",
            err=True,
        )


@pkcs11_group.command("list")
@_token_options
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def list_(module_path: str, token_label: str, pin_source: str, as_json: bool) -> None:
    """The token's private keys, with their Ethereum addresses and where they were born."""
    found: list[keys.KeyInfo] = _with_session(module_path, token_label, pin_source, keys.list_keys)
    if as_json:
        click.echo(json.dumps([k.as_dict() for k in found]))
        return
    for k in found:
        click.echo(f"{k.address or '-':42}  {k.label}  id={k.id.hex() or '-'}  {k.curve}  {k.origin}")
    if not found:
        click.echo(f"no private keys on token {token_label!r}", err=True)


@pkcs11_group.command("tokens")
@_module_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def tokens_(module_path: str, as_json: bool) -> None:
    """The module's initialised tokens (no login needed)."""
    rows = [
        {
            "label": t.label,
            "manufacturer": t.manufacturer_id,
            "model": t.model,
            "serial": t.serial.decode(errors="replace").strip(),
            "slot": t.slot.slot_id,
        }
        for t in get_module(module_path).tokens()
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        click.echo(f"{r['label']}  {r['manufacturer']} {r['model']}  serial={r['serial']}  slot={r['slot']}")


if __name__ == "__main__":  # `python -m signers_pkcs11.cli ...` works without the core's `signers` command
    pkcs11_group()
