"""``signers gcp-kms``: create and list Cloud KMS signing keys, run the emulator."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click

from signers.cli_errors import ErrorsGroup
from signers.errors import SignerError

# google-cloud-kms is imported inside the commands: `signers` loads this module for every command it runs


def _endpoint_option(fn: Any) -> Any:
    return click.option(
        "--endpoint",
        envvar="SIGNERS_GCP_KMS_ENDPOINT",
        help="host:port of a local Cloud KMS emulator (default: Google, with Application Default Credentials)",
    )(fn)


def _client(endpoint: str | None) -> Any:
    from . import connection
    from .errors import translate

    try:
        return connection.sync_client(endpoint)
    except SignerError:
        raise
    except Exception as exc:  # no Application Default Credentials
        raise translate(exc, "gcp-kms") from None


def _location_options(fn: Any) -> Any:
    fn = click.option("--location", default="global", show_default=True, help="Cloud KMS location")(fn)
    return click.option("--project", required=True, envvar="GOOGLE_CLOUD_PROJECT", help="Google Cloud project id")(fn)


@click.group("gcp-kms", cls=ErrorsGroup)
def gcp_kms() -> None:
    """Google Cloud KMS keys: create, list, and a local emulator."""


@gcp_kms.command()
@_location_options
@click.option("--key-ring", required=True, help="key ring id (created if missing)")
@click.option("--key", "key_id", required=True, help="crypto key id (must not exist)")
@click.option(
    "--protection-level",
    type=click.Choice(["HSM", "SOFTWARE"], case_sensitive=False),
    default="HSM",
    show_default=True,
    help="Cloud KMS offers secp256k1 at the HSM level only",
)
@click.option("--label", "labels", multiple=True, help="key=value label (repeatable)")
@_endpoint_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def create(
    project: str,
    location: str,
    key_ring: str,
    key_id: str,
    protection_level: str,
    labels: tuple[str, ...],
    endpoint: str | None,
    as_json: bool,
) -> None:
    """Create a secp256k1 signing key (EC_SIGN_SECP256K1_SHA256) and print its Ethereum address."""
    from .connection import CallPolicy
    from .lifecycle import address_of, create_signing_key, ensure_key_ring
    from .uri import version_uri

    label_map = {}
    for label in labels:
        name, eq, value = label.partition("=")
        if not eq:
            raise click.BadParameter(f"{label!r} is not key=value", param_hint="--label")
        label_map[name] = value
    policy = CallPolicy()
    client = _client(endpoint)
    try:
        click.echo(f"creating {key_id} in key ring {key_ring} ({project}/{location})", err=True)
        ring = ensure_key_ring(client, f"projects/{project}/locations/{location}", key_ring, policy)
        version = create_signing_key(
            client, ring, key_id, protection_level=protection_level.upper(), policy=policy, labels=label_map
        )
        address = address_of(client, version.name, policy)
    finally:
        client.transport.close()
    uri = version_uri(version.name, endpoint)
    if as_json:
        click.echo(json.dumps({"address": address, "uri": uri, "name": version.name}, indent=2))
    else:
        click.echo(address)
        click.echo(f"key version: {uri}", err=True)


@gcp_kms.command("list")
@_location_options
@click.option("--key-ring", help="only this key ring (default: every key ring of the location)")
@_endpoint_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def list_command(project: str, location: str, key_ring: str | None, endpoint: str | None, as_json: bool) -> None:
    """List key versions with algorithm, state, protection level and (secp256k1) address."""
    from .connection import CallPolicy
    from .lifecycle import iter_versions, list_key_rings
    from .uri import version_uri

    policy = CallPolicy()
    parent = f"projects/{project}/locations/{location}"
    client = _client(endpoint)
    try:
        rings = [f"{parent}/keyRings/{key_ring}"] if key_ring else list_key_rings(client, parent, policy)
        found = [info for ring in rings for info in iter_versions(client, ring, policy)]
    finally:
        client.transport.close()
    if as_json:
        click.echo(json.dumps([asdict(info) | {"uri": version_uri(info.name, endpoint)} for info in found], indent=2))
        return
    for info in found:
        click.echo(
            f"{version_uri(info.name, endpoint)}  {info.algorithm}  {info.protection_level}  {info.state}"
            f"  {info.address or '-'}"
        )


@gcp_kms.command()
@click.option("--port", type=int, default=9010, show_default=True, help="port on 127.0.0.1 (0: any free port)")
@click.option("--data-dir", type=click.Path(file_okay=False), help="keep keys across restarts (default: in memory)")
def emulator(port: int, data_dir: str | None) -> None:
    """Run the Cloud KMS emulator (gRPC KeyManagementService) on 127.0.0.1 until interrupted."""
    from .emulator.__main__ import serve

    sys.exit(serve(port, data_dir))
