"""The ``signers`` plugin of this distribution: adds ``signers serve``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from signers.hookspecs import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import serve

    cli.add_command(serve)
