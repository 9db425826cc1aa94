"""How every ``signers`` command (the core's and the plugins') reports a failure, written once.

A SignerError becomes ``error: <message> (<hint>)`` on stderr and exit status 1; usage errors keep click's
exit status 2; anything else is an internal error named by its type only (its message may quote input, a
secret file's bytes say), with the traceback behind SIGNERS_DEBUG=1. A plugin's command group uses
``ErrorsGroup`` too, so it behaves the same when run on its own (``python -m signers_pkcs11.cli``).
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from .errors import SignerError


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


class ErrorsGroup(click.Group):
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
            fail(f"internal error ({type(exc).__name__}); set SIGNERS_DEBUG=1 for the traceback and report it")
