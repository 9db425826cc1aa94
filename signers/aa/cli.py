"""``signers sessions``: list, revoke and rotate an account's Smart Sessions permissions (``SessionManager``).

    signers sessions list   --rpc-url URL --account A [--audit PATH] [--all] [--json]
    signers sessions revoke --rpc-url URL --bundler-url URL --account A --owner URI
                            (--session-key K | --permission-id P ... | --all) [--dry-run] [--json]
    signers sessions rotate --rpc-url URL --bundler-url URL --account A --owner URI --permission-id P
                            --session-key-uri URI --valid-for SECONDS --test-call TO:DATA [--dry-run] [--json]

Results go to stdout, errors to stderr as ``error: ...`` with exit status 1 (2 for usage errors). A dry run prints
the UserOperation it would send (priced by the bundler, not signed) and changes nothing. Nexus-flavour accounts
(the local chain) name their owner validator with ``--owner-validator``; the Startale default is address 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from ..errors import ConfigurationError
from .accounts import SmartAccount
from .addresses import ZERO_ADDRESS, addresses_for
from .bundler import BundlerClient
from .execution import Call
from .hexutil import to_address, to_bytes
from .manager import SessionManager
from .rpc import NodeClient


def _account_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--rpc-url", required=True, help="the chain's node (JSON-RPC URL)"),
            click.option("--account", required=True, help="the smart account's address"),
            click.option(
                "--owner-validator",
                default=ZERO_ADDRESS,
                show_default=True,
                help="the account's owner validator (Nexus: its K1 validator; Startale: 0, the default validator)",
            ),
            click.option("--from-block", type=int, default=0, show_default=True, help="read events from this block"),
            click.option("--json", "as_json", is_flag=True, help="machine-readable output"),
        ]
    ):
        command = option(command)
    return command


def _change_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--bundler-url", required=True, help="the ERC-4337 bundler (JSON-RPC URL)"),
            click.option("--owner", "owner_uri", required=True, help="the account owner's signer URI"),
            click.option(
                "--audit",
                "audit_target",
                help="the audit trail (path or URL): a rotation waits for the old key's ops in it",
            ),
            click.option("--dry-run", is_flag=True, help="print the UserOperation it would send; send nothing"),
        ]
    ):
        command = option(command)
    return command


@contextmanager
def _manager(
    rpc_url: str,
    account: str,
    owner_validator: str,
    from_block: int,
    *,
    bundler_url: str | None = None,
    owner_uri: str | None = None,
    audit_target: str | None = None,
) -> Iterator[SessionManager]:
    from ..audit import AuditTrail
    from ..plugins import load_signer

    try:
        address = to_address(account, "--account")
        validator = to_address(owner_validator, "--owner-validator")
    except ConfigurationError:
        raise ConfigurationError("--account and --owner-validator must be 20-byte hex addresses") from None
    node = NodeClient(rpc_url)
    bundler = BundlerClient(bundler_url) if bundler_url else None
    trail = AuditTrail(audit_target) if audit_target else None
    owner = None
    try:
        chain_id = node.chain_id()  # the node answers, or the command stops here
        smart_account = SmartAccount(
            address, node=node, owner_validator=validator, chain_id=chain_id, addresses=addresses_for(chain_id)
        )
        if owner_uri is not None:
            owner = load_signer(owner_uri, chain_id=chain_id)
        yield SessionManager(smart_account, owner=owner, bundler=bundler, audit=trail, from_block=from_block)
    finally:
        if owner is not None:
            owner.close()
        if trail is not None:
            trail.close()
        if bundler is not None:
            bundler.close()
        node.close()


def _iso(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds") if at else "-"


@click.group("sessions")
def sessions_command() -> None:
    """Smart Sessions permissions of an account: list, revoke, rotate."""


@sessions_command.command("list")
@_account_options
@click.option("--audit", "audit_target", help="the audit trail (path or URL) to join: ops signed, last use")
@click.option("--all", "include_disabled", is_flag=True, help="removed permissions too")
def list_command(
    rpc_url: str, account: str, owner_validator: str, from_block: int, as_json: bool, audit_target: str | None,
    include_disabled: bool,
) -> None:  # fmt: skip
    """The account's permissions from the chain, joined with the audit trail."""
    with _manager(rpc_url, account, owner_validator, from_block, audit_target=audit_target) as manager:
        records = manager.permissions(include_disabled=include_disabled)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
        return
    for r in records:
        scope = ", ".join(f"{a.action_target}:0x{a.action_target_selector.hex()}" for a in r.session.actions) if (
            r.session) else "unknown"  # fmt: skip
        click.echo(
            f"0x{r.permission_id.hex()} {'enabled' if r.enabled else 'removed'} key {r.session_key or 'unknown'} "
            f"expires {_iso(r.expires_at)} signed {r.ops_signed} refused {r.ops_refused} last {_iso(r.last_use)} "
            f"scope {scope}"
        )


@sessions_command.command("revoke")
@_account_options
@_change_options
@click.option("--session-key", help="every permission of this session key")
@click.option("--permission-id", "permission_ids", multiple=True, help="this permission (repeatable)")
@click.option("--all", "revoke_all", is_flag=True, help="every enabled permission of the account")
def revoke_command(
    rpc_url: str, account: str, owner_validator: str, from_block: int, as_json: bool, bundler_url: str,
    owner_uri: str, audit_target: str | None, dry_run: bool, session_key: str | None, permission_ids: tuple[str, ...],
    revoke_all: bool,
) -> None:  # fmt: skip
    """Remove permissions in one owner UserOperation; refused locally before it is even sent."""
    if sum(bool(x) for x in (session_key, permission_ids, revoke_all)) != 1:
        raise click.UsageError("give exactly one of --session-key, --permission-id (repeatable) and --all")
    with _manager(rpc_url, account, owner_validator, from_block, bundler_url=bundler_url, owner_uri=owner_uri,
                  audit_target=audit_target) as manager:  # fmt: skip
        result = manager.revoke(session_key=session_key, permission_ids=permission_ids, all=revoke_all, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    ids = " ".join("0x" + p.hex() for p in result.permission_ids)
    if dry_run:
        click.echo(f"would remove {ids} with this UserOperation (not signed, not sent):")
        click.echo(json.dumps(result.user_operation.to_rpc(), indent=2))
        return
    click.echo(f"removed {ids} in userOp 0x{(result.user_op_hash or b'').hex()}")


def _test_call(text: str) -> Call:
    to, _, data = text.partition(":")
    try:
        return Call(to_address(to, "--test-call target"), 0, to_bytes(data or "0x", "--test-call data"))
    except ConfigurationError:
        raise click.BadParameter("TO:DATA, a 20-byte hex address and hex calldata", param_hint="--test-call") from None


@sessions_command.command("rotate")
@_account_options
@_change_options
@click.option("--permission-id", required=True, help="the permission to replace")
@click.option("--session-key-uri", required=True, help="its session key's signer URI (the new key is made like it)")
@click.option("--valid-for", type=click.IntRange(min=60), required=True, help="the new permission's life, seconds")
@click.option("--test-call", "test_calls", multiple=True, required=True, help="TO:DATA, in scope (repeatable)")
@click.option("--label", help="the new key's label or name in its custody")
def rotate_command(
    rpc_url: str, account: str, owner_validator: str, from_block: int, as_json: bool, bundler_url: str,
    owner_uri: str, audit_target: str | None, dry_run: bool, permission_id: str, session_key_uri: str,
    valid_for: int, test_calls: tuple[str, ...], label: str | None,
) -> None:  # fmt: skip
    """A new session key in the same custody, the same scope with a new expiry, a test op, then the old one removed."""
    from ..plugins import load_signer

    calls = [_test_call(c) for c in test_calls]
    with _manager(rpc_url, account, owner_validator, from_block, bundler_url=bundler_url, owner_uri=owner_uri,
                  audit_target=audit_target) as manager, load_signer(session_key_uri) as current:  # fmt: skip
        result = manager.rotate(
            permission_id, test_calls=calls, valid_for=valid_for, current_key=current, new_key_label=label,
            dry_run=dry_run,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    if dry_run:
        click.echo(
            f"would grant 0x{result.new_permission_id.hex()} with this UserOperation (not signed, not sent; no key "
            "is created in a dry run, so the current key's address stands in for the new one's):"
        )
        click.echo(json.dumps(result.grant_user_operation.to_rpc(), indent=2))
        return
    click.echo(
        f"0x{result.old_permission_id.hex()} replaced by 0x{result.new_permission_id.hex()} "
        f"(key {result.new_session.session_key}, URI {result.new_key})"
    )
