"""Start the real services the flow needs, and stop exactly what was started here.

Used by demo/run.py and the benchmarks that need services (bench_e2e, bench_incident, bench_aws_kms). Each
``start_*`` takes the caller's ``contextlib.ExitStack`` and registers the matching stop on it *before* starting,
so an interruption half-way through start-up (Ctrl-C while a script runs) still stops what came up. A service
already running (a developer's own LocalStack, a chain stack started by a pytest session) is reused and left
alone.

- SoftHSM: a private configuration and token under .state/<name>/softhsm (never the system one), its user PIN
  random and held only in this process's environment (``pin-source=env:...``); removed at the end.
- LocalStack (AWS KMS): signers.testing.localstack (what localstack/start and localstack/stop run) on
  127.0.0.1:$LOCALSTACK_PORT (default 4566).
- The chain stack: chain/stack.py start/stop (anvil + EntryPoint v0.7 + Nexus + Smart Sessions + Alto).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # softhsm/ and chain/ are folders of the repository, importable from its root
    sys.path.insert(0, str(ROOT))

from chain import stack as chain_stack  # noqa: E402  (with the repository's defaults: state in .state/, ports)
from signers.testing import localstack  # noqa: E402
from signers.testing.localstack import LocalStack  # noqa: E402
from softhsm.private import PrivateToken, private_token  # noqa: E402

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- SoftHSM -------------------------------------------------------------------------------------------------
HsmToken = PrivateToken  # a private SoftHSM token: generate_key(prefix=...) returns a pkcs11: URI


def start_softhsm(stack: contextlib.ExitStack, directory: Path, label: str, pin_env: str) -> HsmToken:
    """A fresh token in ``directory`` (removed when ``stack`` closes). SOFTHSM2_CONF and PKCS11_MODULE are set
    for this process, so set nothing else up with PKCS#11 before this runs."""
    return stack.enter_context(private_token(directory, label, pin_env))


# -- LocalStack ----------------------------------------------------------------------------------------------
def start_localstack(stack: contextlib.ExitStack, progress: Progress = _stderr) -> LocalStack:
    """LocalStack's KMS on 127.0.0.1:$LOCALSTACK_PORT (default 4566), through signers.testing.localstack."""
    localstack.set_test_environment()
    port = int(os.environ.get("LOCALSTACK_PORT", "4566"))
    if localstack.kms_ready(port):
        progress(f"LocalStack already serves KMS on 127.0.0.1:{port}: reusing it (it will be left running)")
        return LocalStack(port, started_here=False)
    progress(f"starting LocalStack (KMS) on 127.0.0.1:{port} ...")
    stack.callback(localstack.stop, port)  # first: a start interrupted half-way is stopped too
    return localstack.start(port)


# -- the chain stack -----------------------------------------------------------------------------------------
@dataclass
class _StopIfStarted:
    """A stop callback that only acts if the start turned out to be ours."""

    stop: Callable[[], object]
    armed: bool = True

    def __call__(self) -> None:
        if self.armed:
            self.stop()


def start_chain(stack: contextlib.ExitStack, progress: Progress = _stderr) -> tuple[dict[str, Any], bool]:
    """(deployment, started_here). A running stack is reused and left running."""
    running = chain_stack.status()
    if running is not None:
        progress(f"chain stack already running at {running['rpc_url']}: reusing it (it will be left running)")
        return running, False
    progress("starting the chain stack (anvil, EntryPoint v0.7, Nexus, Smart Sessions, Alto) ...")
    guard = _StopIfStarted(chain_stack.stop)
    stack.callback(guard)
    deployment, started_here = chain_stack.start()
    guard.armed = started_here
    return deployment, started_here
