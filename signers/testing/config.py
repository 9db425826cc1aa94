"""Where the services of ``signers.testing`` keep their state, which ports they use, and the error for a missing
system dependency. Standard library only: the repository's scripts run it before anything else is set up.

Settings come from the environment (the pytest plugin copies its ini options there first, so child processes
and the repository's scripts see the same values):

- ``SIGNERS_TESTING_STATE``: the folder that holds every service's installs and state (``localstack/``,
  ``chain/``, ``softhsm/``, ``postgres/``, ``gcp-kms/``). Default: ``$XDG_CACHE_HOME/signers-testing`` (else
  ``~/.cache/signers-testing``), so the LocalStack venv and the chain's npm packages are installed once per
  machine, not once per run. This repository sets it to its ignored ``.state/``.
- ``LOCALSTACK_PORT``, ``SIGNERS_CHAIN_RPC_PORT``, ``SIGNERS_CHAIN_BUNDLER_PORT``: a number, or ``0`` / unset
  for a free port chosen at start. This repository pins 4566, 8545 and 4337 (its shared services).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

STATE_ENV = "SIGNERS_TESTING_STATE"
HOST = "127.0.0.1"  # every service started here listens on loopback only


class MissingDependency(RuntimeError):
    """A system program the service needs is not installed; the message is the command that installs it."""


def state_root() -> Path:
    configured = os.environ.get(STATE_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(cache) / "signers-testing").resolve()


def state_dir(service: str) -> Path:
    """``<state root>/<service>``, created on first use."""
    path = state_root() / service
    path.mkdir(parents=True, exist_ok=True)
    return path


def configured_port(env: str) -> int:
    """The port named by ``env``; 0 (the default) means "a free one, chosen when the service starts"."""
    value = os.environ.get(env, "").strip()
    if not value or value == "auto":
        return 0
    if not value.isdigit() or not 0 <= int(value) < 65536:
        raise ValueError(f"{env} must be a port number (0 or unset for a free port)")
    return int(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is free
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def require(program: str, install: str) -> str:
    """The path of ``program``, or MissingDependency saying how to install it (a missing service fails)."""
    path = shutil.which(program)
    if path is None:
        raise MissingDependency(f"{program} is not installed; install it with: {install}")
    return path
