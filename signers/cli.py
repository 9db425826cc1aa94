"""The ``signers`` command. Results go to stdout, errors to stderr as ``error: ...`` with exit status 1
(2 for usage errors, as click does). Plugins add subcommands through the ``register_commands`` hook."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from .errors import SignerError
from .plugins import backends, get_plugin_manager, load_signer
from .signer import Signer


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


class SignersGroup(click.Group):
    """Turns every SignerError into one line on stderr and exit status 1, whichever command raised it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SignerError as exc:
            fail(str(exc))
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("SIGNERS_DEBUG"):
                raise
            # The message of an unexpected exception may quote its input (a secret file's bytes, say): name
            # the type only, and let a developer ask for the traceback.
            fail(f"internal error ({type(exc).__name__}); set SIGNERS_DEBUG=1 for the traceback and report it")


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


@click.group(cls=SignersGroup)
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
@click.argument("uri")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def custody(uri: str, as_json: bool) -> None:
    """Where the key at URI lives and what it allows: a report for security reviews."""
    with open_signer(uri) as signer:
        emit({"address": signer.address, **signer.backend.custody()}, as_json)


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


@cli.command("audit")
@click.option(
    "--db",
    envvar="SIGNERS_AUDIT_DB",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="the audit trail (default: $SIGNERS_AUDIT_DB)",
)
@click.option("--address", help="only this signer's entries")
@click.option(
    "--outcome",
    type=click.Choice(["signed", "refused", "failed"]),
    help="only signatures, only policy refusals, or only failures (backend error, self-check)",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output, one JSON object per line")
def audit_command(db: str, address: str | None, outcome: str | None, as_json: bool) -> None:
    """Show the audit trail: every signature and every refusal, oldest first."""
    from dataclasses import asdict
    from datetime import UTC, datetime

    from .audit import AuditTrail

    trail = AuditTrail(db)
    try:
        for entry in trail.entries(address=address, outcome=outcome):
            if as_json:
                click.echo(json.dumps(asdict(entry), sort_keys=True))
                continue
            when = datetime.fromtimestamp(entry.at, UTC).isoformat(timespec="seconds")
            what = entry.signature if entry.outcome == "signed" else f"{entry.outcome}: {entry.reason}"
            op, sponsored = entry.context.get("user_op_hash"), entry.context.get("sponsored")
            about = f" userOp {op}" if op else ""
            if sponsored:  # a paymaster approval (signers.aa.VerifyingPaymaster)
                about = f" sponsors {sponsored} nonce {int(entry.context.get('nonce', 0)):#x}"
            click.echo(f"{when} {entry.address} {entry.kind:<14} {entry.digest} {what}{about}")
    finally:
        trail.close()


def main() -> None:
    try:
        get_plugin_manager().hook.register_commands(cli=cli)
    except SignerError as exc:
        fail(str(exc))
    cli(prog_name="signers")
