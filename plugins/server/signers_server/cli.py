"""``signers serve --config FILE [--check-config]`` and ``signers serve hash-token``."""

from __future__ import annotations

import json
import sys

import click

from signers.plugins import backends
from signers.uri import parse

from .auth import new_token, token_hash
from .config import ConfigError, address_books, granted_sessions, load_config


@click.group("serve", invoke_without_command=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="the service's TOML configuration")
@click.option("--check-config", is_flag=True, help="validate the configuration and exit without starting")
@click.pass_context
def serve(ctx: click.Context, config_path: str | None, check_config: bool) -> None:
    """Run the signing service (JSON-RPC for ethers, viem, web3.py) in front of the configured keys."""
    if ctx.invoked_subcommand is not None:
        return
    if config_path is None:
        raise click.UsageError("--config FILE is required")
    config = load_config(config_path)
    installed = backends()
    for name, key in config.keys.items():
        scheme = parse(key.uri).scheme
        if scheme not in installed:
            raise ConfigError(
                f"keys.{name}.uri: no installed backend handles {scheme}: URIs",
                hint="run `signers backends`; install the plugin that provides it",
            )
    address_books(config)  # parsed, so that --check-config reports them too
    granted_sessions(config)
    if check_config:
        click.echo(
            f"ok: {len(config.keys)} keys, {len(config.clients)} clients, "
            f"{len(config.sessions)} sessions; listening would be on {config.host}:{config.port}"
        )
        return
    from .serve import run

    run(config)


@serve.command("hash-token")
@click.option("--stdin", "from_stdin", is_flag=True, help="hash a token read from stdin instead of making one")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def hash_token(from_stdin: bool, as_json: bool) -> None:
    """Make a client token and the hash to put in the configuration (token_hash = ...)."""
    token = sys.stdin.readline().strip() if from_stdin else new_token()
    if not token:
        raise click.UsageError("no token on stdin")
    hashed = token_hash(token)
    if as_json:
        click.echo(json.dumps({"token": None if from_stdin else token, "token_hash": hashed}))
        return
    if not from_stdin:
        click.echo(f"token:      {token}    (give it to the client; the service stores only the hash)")
    click.echo(f'token_hash = "{hashed}"')
