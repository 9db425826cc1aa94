"""``signers aws-kms``: create, list and import secp256k1 signing keys.

Connection options (--region, --profile, --endpoint-url) mean what the URI attributes of the same name mean;
credentials come from boto3's chain. Results go to stdout (``--json`` for machines), errors to stderr as
``error: ...`` with exit status 1 (the core's ErrorsGroup).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from signers.cli_errors import ErrorsGroup
from signers.errors import ConfigurationError, SignerError
from signers.keys import PublicKey, parse_private_key
from signers.secrets import read_secret

from .backend import KEY_SPEC
from .connection import KmsConnection
from .errors import AlreadyExistsError
from .importing import address_of, import_key_material
from .uri import KeyRef, KmsSettings

F = TypeVar("F", bound=Callable[..., Any])


def _connection_options(fn: F) -> F:
    for option in reversed(
        [
            click.option("--region", help="AWS region (default: the boto3 chain, e.g. AWS_REGION)"),
            click.option("--profile", help="AWS profile from ~/.aws/config"),
            click.option("--endpoint-url", help="KMS endpoint, e.g. http://127.0.0.1:4566 for LocalStack"),
        ]
    ):
        fn = option(fn)
    return fn


def _connect(region: str | None, profile: str | None, endpoint_url: str | None) -> KmsConnection:
    return KmsConnection(KmsSettings(region=region, profile=profile, endpoint_url=endpoint_url))


def _uri(connection: KmsConnection, key: str) -> str:
    settings = connection.settings
    return KeyRef(
        key, KmsSettings(region=connection.region, profile=settings.profile, endpoint_url=settings.endpoint_url)
    ).uri()


def _tags(pairs: tuple[str, ...]) -> list[dict[str, str]]:
    tags = []
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise ConfigurationError(f"--tag {pair!r}: expected KEY=VALUE", hint="e.g. --tag team=payments")
        tags.append({"TagKey": key, "TagValue": value})
    return tags


def _alias(name: str | None) -> str | None:
    if name is None:
        return None
    return name if name.startswith("alias/") else f"alias/{name}"


def _create_key(
    connection: KmsConnection,
    *,
    origin: str,
    description: str,
    tags: tuple[str, ...],
    policy_file: Path | None,
    multi_region: bool,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "KeySpec": KEY_SPEC,
        "KeyUsage": "SIGN_VERIFY",
        "Origin": origin,
        "Description": description,
        "Tags": _tags(tags),
        "MultiRegion": multi_region,
    }
    if policy_file is not None:
        try:
            policy = policy_file.read_text()
            json.loads(policy)
        except OSError as exc:
            raise ConfigurationError(
                f"--policy-file {policy_file}: {exc.strerror}", hint="give the path of a readable key policy JSON file"
            ) from None
        except ValueError:
            raise ConfigurationError(
                f"--policy-file {policy_file}: not JSON",
                hint="a KMS key policy is a JSON document (Version, Statement)",
            ) from None
        params["Policy"] = policy
    # not retried after a lost answer: KMS may have created the key, and a retry would make a second, orphan one
    metadata: dict[str, Any] = connection.call("create_key", "create-key", idempotent=False, **params)["KeyMetadata"]
    return metadata


def _create_alias(connection: KmsConnection, alias: str, key_id: str) -> None:
    """CreateAlias, retried as usual; a retry whose first attempt did create the alias (its answer lost) meets
    AlreadyExistsException: that is success when the alias points at our key, an error otherwise."""
    try:
        connection.call("create_alias", alias, AliasName=alias, TargetKeyId=key_id)
    except AlreadyExistsError:
        target = connection.call("describe_key", alias, KeyId=alias)["KeyMetadata"]
        if target["KeyId"] != key_id:
            raise AlreadyExistsError(
                f"{alias} already exists and points at key {target['KeyId']}, not at the new key {key_id}",
                hint=f"choose another --alias (the new key is usable as {key_id}), or move the alias with "
                "aws kms update-alias if that is intended",
            ) from None


def _report(
    connection: KmsConnection, metadata: dict[str, Any], alias: str | None, address: str, as_json: bool
) -> None:
    uri = _uri(connection, alias or metadata["KeyId"])
    if as_json:
        click.echo(
            json.dumps(
                {
                    "address": address,
                    "uri": uri,
                    "key_id": metadata["KeyId"],
                    "arn": metadata["Arn"],
                    "alias": alias,
                    "origin": metadata.get("Origin"),
                },
                indent=2,
            )
        )
    else:
        click.echo(address)
        click.echo(f"key {metadata['Arn']}{' as ' + alias if alias else ''}; use {uri}", err=True)


@click.group("aws-kms", cls=ErrorsGroup)
def aws_kms() -> None:
    """secp256k1 signing keys in AWS KMS (or LocalStack)."""


@aws_kms.command()
@_connection_options
@click.option("--alias", help="alias for the key (alias/ prefix optional)")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="tag the key (repeatable)")
@click.option("--policy-file", type=click.Path(path_type=Path), help="key policy JSON (default: the account's default)")
@click.option("--description", default="signers: Ethereum signing key (secp256k1)", show_default=True)
@click.option("--multi-region", is_flag=True, help="create a multi-region primary key")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def create(
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    alias: str | None,
    tags: tuple[str, ...],
    policy_file: Path | None,
    description: str,
    multi_region: bool,
    as_json: bool,
) -> None:
    """Create an ECC_SECG_P256K1 SIGN_VERIFY key; print its Ethereum address."""
    connection = _connect(region, profile, endpoint_url)
    alias = _alias(alias)
    metadata = _create_key(
        connection,
        origin="AWS_KMS",
        description=description,
        tags=tags,
        policy_file=policy_file,
        multi_region=multi_region,
    )
    if alias:
        _create_alias(connection, alias, metadata["KeyId"])
    public = connection.call("get_public_key", metadata["Arn"], KeyId=metadata["Arn"])["PublicKey"]
    _report(connection, metadata, alias, PublicKey.from_spki(public).address, as_json)


@aws_kms.command("import")
@_connection_options
@click.option(
    "--private-key-source",
    required=True,
    metavar="env:NAME|file:PATH",
    help="where to read the hex private key (never on the command line)",
)
@click.option("--alias", help="alias for the key (alias/ prefix optional)")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="tag the key (repeatable)")
@click.option("--policy-file", type=click.Path(path_type=Path), help="key policy JSON")
@click.option("--description", default="signers: imported Ethereum signing key (secp256k1)", show_default=True)
@click.option(
    "--wrapping-key-spec",
    type=click.Choice(["RSA_2048", "RSA_3072", "RSA_4096"]),
    default="RSA_4096",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def import_(
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    private_key_source: str,
    alias: str | None,
    tags: tuple[str, ...],
    policy_file: Path | None,
    description: str,
    wrapping_key_spec: str,
    as_json: bool,
) -> None:
    """Import an existing secp256k1 private key (origin EXTERNAL); print its address."""
    private_key = parse_private_key(read_secret(private_key_source, "private-key").reveal(), private_key_source)
    expected = address_of(private_key)
    connection = _connect(region, profile, endpoint_url)
    alias = _alias(alias)
    metadata = _create_key(
        connection, origin="EXTERNAL", description=description, tags=tags, policy_file=policy_file, multi_region=False
    )
    click.echo(
        f"importing key material into {metadata['Arn']} ({wrapping_key_spec} RSAES_OAEP_SHA_256 wrapping)", err=True
    )
    import_key_material(connection, metadata["KeyId"], private_key, wrapping_key_spec)
    del private_key
    public = connection.call("get_public_key", metadata["Arn"], KeyId=metadata["Arn"])["PublicKey"]
    address = PublicKey.from_spki(public).address
    if address != expected:
        raise SignerError(
            f"{metadata['Arn']}: KMS reports address {address} after the import, expected {expected}",
            hint="schedule the key for deletion; the import did not take the key given",
        )
    if alias:
        _create_alias(connection, alias, metadata["KeyId"])
    _report(connection, metadata, alias, address, as_json)


@aws_kms.command("list")
@_connection_options
@click.option("--all", "show_all", is_flag=True, help="also list keys that are not secp256k1 signing keys")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def list_(region: str | None, profile: str | None, endpoint_url: str | None, show_all: bool, as_json: bool) -> None:
    """List keys (secp256k1 signing keys by default) with their aliases and addresses."""
    connection = _connect(region, profile, endpoint_url)
    aliases: dict[str, list[str]] = {}
    for alias in _pages(connection, "list_aliases", "Aliases"):
        if alias.get("TargetKeyId"):
            aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    rows = []
    for key in _pages(connection, "list_keys", "Keys"):
        metadata = connection.call("describe_key", key["KeyId"], KeyId=key["KeyId"])["KeyMetadata"]
        spec = metadata.get("KeySpec")
        signing = spec == KEY_SPEC and metadata.get("KeyUsage") == "SIGN_VERIFY"
        if not (signing or show_all):
            continue
        address = None
        if signing and metadata.get("KeyState") in ("Enabled", "Disabled"):
            public = connection.call("get_public_key", metadata["Arn"], KeyId=metadata["Arn"])["PublicKey"]
            address = PublicKey.from_spki(public).address
        rows.append(
            {
                "address": address,
                "key_id": metadata["KeyId"],
                "arn": metadata["Arn"],
                "state": metadata.get("KeyState"),
                "origin": metadata.get("Origin"),
                "key_spec": spec,
                "key_usage": metadata.get("KeyUsage"),
                "aliases": sorted(aliases.get(metadata["KeyId"], [])),
                "uri": _uri(connection, metadata["KeyId"]),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            "\t".join(
                [
                    row["address"] or "-",
                    row["key_id"],
                    str(row["state"]),
                    str(row["origin"]),
                    ",".join(row["aliases"]) or "-",
                ]
                + ([str(row["key_spec"])] if show_all else [])
            )
        )


def _pages(connection: KmsConnection, operation: str, field: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        paging: dict[str, Any] = {"Marker": marker} if marker else {}
        page = connection.call(operation, operation, **paging)
        items += page.get(field, [])
        marker = page.get("NextMarker") if page.get("Truncated") else None
        if not marker:
            return items
