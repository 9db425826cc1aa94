"""The ``signers`` command. Results go to stdout, errors to stderr as ``error: ...`` with exit status 1
(2 for usage errors, as click does). Plugins add subcommands through the ``register_commands`` hook."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .cli_errors import ErrorsGroup, fail
from .errors import SignerError
from .plugins import backends, get_plugin_manager, load_signer
from .signer import Signer


def open_signer(uri: str, chain_id: int | None = None) -> Signer:
    if uri.startswith("local:"):
        click.echo("warning: local: keys live in process memory; use them for development and tests only", err=True)
    return load_signer(uri, chain_id=chain_id)


def emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        width = max(map(len, data)) if data else 0
        for key, value in data.items():
            click.echo(f"{key:<{width}}  {value}")


class CommandsGroup(ErrorsGroup):
    """The core's commands at once; ``sessions`` (the AA layer) and the plugins' commands are imported only
    when one of them is asked for, or the list is shown: ``signers address local:...`` imports no plugin."""

    plugins_loaded = False

    def _add_plugin_commands(self, name: str | None) -> None:
        if name == "sessions":
            from .aa.cli import sessions_command  # the Smart Sessions lifecycle, built in like `audit`

            self.add_command(sessions_command)
            return
        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        try:
            backends()  # imports every installed plugin, those that defer to their scheme's first use included
            get_plugin_manager().hook.register_commands(cli=self)
        except SignerError as exc:
            fail(str(exc))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands(cmd_name)
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands("sessions")
        self._add_plugin_commands(None)
        return super().list_commands(ctx)


@click.group(cls=CommandsGroup)
@click.version_option(package_name="signers")
def cli() -> None:
    """Ethereum signing with keys in HSMs and cloud KMS."""


@cli.command("backends")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def backends_command(as_json: bool) -> None:
    """List installed backends and their URI schemes."""
    found = {scheme: {"plugin": info.plugin, "description": info.description} for scheme, info in backends().items()}
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        for scheme, info in sorted(found.items()):
            click.echo(f"{scheme:<10} {info['plugin']:<12} {info['description']}")


@cli.command()
@click.argument("uri")
def address(uri: str) -> None:
    """Print the checksummed address of the key at URI."""
    with open_signer(uri) as signer:
        click.echo(signer.address)


@cli.command()
@click.argument("uris", metavar="URI...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (a list for several URIs)")
def custody(uris: tuple[str, ...], as_json: bool) -> None:
    """Where each key lives and what it allows: a report for security reviews. One URI: every fact; several:
    a table side by side (backend, kind, address, extractable, generated in hardware, state, warnings)."""
    from .custody import CustodyReport, table

    reports = []
    for uri in uris:
        with open_signer(uri) as signer:
            reports.append(CustodyReport.of(signer.backend.custody(), address=signer.address))
    if len(reports) == 1:
        emit(dict(reports[0]), as_json)
    elif as_json:
        click.echo(json.dumps(reports, indent=2, default=str))
    else:
        for line in table(reports):
            click.echo(line)


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        return json.loads(text)
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    except ValueError as exc:
        fail(f"{path}: not JSON ({exc})")


@cli.command()
@click.argument("uri")
@click.option("--digest", help="a 32-byte hex digest, signed as is")
@click.option("--message", help="a text message, signed with EIP-191 personal_sign")
@click.option("--typed-data", type=str, help="an EIP-712 JSON file ('-' for stdin)")
@click.option("--tx", type=str, help="a transaction JSON file ('-' for stdin), with chainId")
@click.option("--chain-id", type=int, help="refuse transactions for any other chain")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def sign(
    uri: str,
    digest: str | None,
    message: str | None,
    typed_data: str | None,
    tx: str | None,
    chain_id: int | None,
    as_json: bool,
) -> None:
    """Sign one thing with the key at URI: exactly one of --digest, --message, --typed-data, --tx."""
    chosen = [
        name
        for name, value in (("--digest", digest), ("--message", message), ("--typed-data", typed_data), ("--tx", tx))
        if value is not None
    ]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --digest, --message, --typed-data, --tx")
    with open_signer(uri, chain_id) as signer:
        out: dict[str, Any] = {"address": signer.address}
        if digest is not None:
            try:
                raw = bytes.fromhex(digest.removeprefix("0x"))
            except ValueError:
                fail("--digest is not hex")
            sig = signer.sign_digest(raw)
            out.update(digest="0x" + raw.hex(), signature=sig.to_hex(), r=hex(sig.r), s=hex(sig.s), v=sig.v)
        elif tx is not None:
            signed_tx = signer.sign_transaction(_read_json(tx))
            out.update(
                raw_transaction=signed_tx.raw_transaction.to_0x_hex(), hash=signed_tx.hash.to_0x_hex(), v=signed_tx.v
            )
        else:
            signed = (
                signer.sign_message(message)
                if message is not None
                else signer.sign_typed_data(full_message=_read_json(typed_data or "-"))
            )
            out.update(message_hash=signed.message_hash.to_0x_hex(), signature=signed.signature.to_0x_hex(), v=signed.v)
        emit(out, as_json)


def _audit_target(db: str | None, url: str | None) -> str:
    """The trail to read: --url, --db, then $SIGNERS_AUDIT_URL, $SIGNERS_AUDIT_DB."""
    target = url or db or os.environ.get("SIGNERS_AUDIT_URL") or os.environ.get("SIGNERS_AUDIT_DB")
    if not target:
        raise click.UsageError("name the trail: --url, --db, SIGNERS_AUDIT_URL or SIGNERS_AUDIT_DB")
    return target


def _when(value: str | None, option: str) -> float | None:
    """Unix seconds or an ISO 8601 time (UTC unless it says otherwise)."""
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("an ISO 8601 time (2026-01-31T12:00) or unix seconds", param_hint=option) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


_trail_options = [
    click.option("--db", help="an SQLite trail file (default: $SIGNERS_AUDIT_DB)"),
    click.option("--url", help="the trail's URL, postgresql://... or sqlite:///PATH (default: $SIGNERS_AUDIT_URL)"),
]


def trail_options(command: Any) -> Any:
    for option in reversed(_trail_options):
        command = option(command)
    return command


@cli.group("audit", invoke_without_command=True)
@trail_options
@click.option("--address", help="only this signer's entries")
@click.option(
    "--outcome",
    type=click.Choice(["signed", "refused", "failed"]),
    help="only signatures, only policy refusals, or only failures (backend error, self-check)",
)
@click.option("--permission-id", help="only requests for this Smart Sessions permission id")
@click.option("--user-op-hash", help="only this UserOperation")
@click.option("--account", help="only ops of (or approvals for) this smart account")
@click.option("--client", help="only requests the signing service served for this client")
@click.option("--since", help="from this time on (ISO 8601, UTC by default, or unix seconds)")
@click.option("--until", help="before this time")
@click.option("--summary", is_flag=True, help="one line per permission id: signed, refused, failed, first and last use")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output, one JSON object per line")
@click.option("--export", "export_path", help="write the matching records to this file as JSON lines")
@click.pass_context
def audit_command(
    ctx: click.Context,
    /,
    db: str | None,
    url: str | None,
    since: str | None,
    until: str | None,
    summary: bool,
    as_json: bool,
    export_path: str | None,
    **filters: str | None,
) -> None:
    """Show the audit trail: every signature and every refusal, oldest first (or `migrate` its schema)."""
    from dataclasses import asdict
    from datetime import UTC, datetime

    from .audit import AuditTrail

    if ctx.invoked_subcommand is not None:
        ctx.obj = (db, url)
        return
    target = _audit_target(db, url)
    if "://" not in target and not Path(target).is_file():
        fail(f"no audit trail at {target}")  # reading never creates a trail
    trail = AuditTrail(target)
    query: dict[str, Any] = {**filters, "since": _when(since, "--since"), "until": _when(until, "--until")}

    def iso(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")

    try:
        if summary:
            for item in trail.summary(**query):
                if as_json:
                    click.echo(json.dumps(asdict(item), sort_keys=True))
                else:
                    click.echo(
                        f"{item.permission_id} signed {item.signed} refused {item.refused} failed {item.failed}"
                        f" first {iso(item.first_use)} last {iso(item.last_use)}"
                    )
            return
        if export_path is not None:
            with open(export_path, "w", encoding="utf-8") as out:
                count = trail.export(out, **query)
            click.echo(f"{count} records written to {export_path}")
            return
        for entry in trail.entries(**query):
            if as_json:
                click.echo(json.dumps(asdict(entry), sort_keys=True))
                continue
            what = entry.signature if entry.outcome == "signed" else f"{entry.outcome}: {entry.reason}"
            op, sponsored = entry.context.get("user_op_hash"), entry.context.get("sponsored")
            about = f" userOp {op}" if op else ""
            if entry.permission_id:
                about += f" permission {entry.permission_id}"
            if sponsored:  # a paymaster approval (signers.aa.VerifyingPaymaster)
                about = f" sponsors {sponsored} nonce {int(entry.context.get('nonce', 0)):#x}"
            if entry.client:
                about += f" for {entry.client}"
            click.echo(f"{iso(entry.at)} {entry.address} {entry.kind:<14} {entry.digest} {what}{about}")
    finally:
        trail.close()


@audit_command.command("migrate")
@trail_options
@click.pass_context
def audit_migrate(ctx: click.Context, db: str | None, url: str | None) -> None:
    """Create or upgrade the trail's schema to this version's (signing processes also do it on start)."""
    from .audit import AuditTrail

    outer_db, outer_url = ctx.obj or (None, None)
    trail = AuditTrail(_audit_target(db or outer_db, url or outer_url))
    try:
        click.echo(f"{trail.url}: schema version {trail.version()}")
    finally:
        trail.close()


def main() -> None:
    cli(prog_name="signers")
