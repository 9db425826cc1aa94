"""`make demo`: Smart Sessions end to end with keys in custody, on real local services, step by step.

    make demo                      install, service installs, then this script
    .venv/bin/python demo/run.py   this script alone (after `make services`)

It starts a private SoftHSM token (under .state/demo/), LocalStack (AWS KMS) and the local chain stack (anvil,
EntryPoint v0.7, Nexus 1.0.1, Smart Sessions, Alto), then: the owner key is created in KMS and a session key
inside the HSM; the owner's account is created counterfactually and deployed by its first UserOperation, which
installs Smart Sessions; the owner grants the session key Counter.increment(); the session key alone then
changes on-chain state (with the owner key disabled in KMS to prove it), also with several ops in flight at
once; out-of-scope, expired and revoked sessions are refused (locally and by the chain); the session key is
rotated; a TypeScript app (viem, under Node) uses the session key through `signers serve`;
the audit trail is matched against the chain. The report goes to stdout, progress to stderr.

Everything it started is stopped at the end, on error and on Ctrl-C / SIGTERM too; services that were already
running (a LocalStack or chain stack of yours) are reused and left alone. Exit status 0 only if every step and
every check passed. LOCALSTACK_PORT, SIGNERS_CHAIN_RPC_PORT and SIGNERS_CHAIN_BUNDLER_PORT choose the ports.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from demo.flow import run_flow  # noqa: E402
from demo.report import DemoFailure, Report  # noqa: E402
from demo.services import start_chain, start_localstack, start_softhsm  # noqa: E402

STATE = ROOT / ".state" / "demo"
PIN_ENV = "SIGNERS_DEMO_PKCS11_PIN"


class Terminated(Exception):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C, so that everything started here is stopped."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signal.Signals(signum).name)


def _hold_lock(stack: contextlib.ExitStack) -> None:
    """One demo at a time per clone: a second one would recreate the first one's token under its feet."""
    STATE.mkdir(parents=True, exist_ok=True)
    fd = os.open(STATE / "lock", os.O_WRONLY | os.O_CREAT, 0o600)
    stack.callback(os.close, fd)  # closing releases the lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise DemoFailure("another demo is running in this clone (.state/demo/lock); wait for it to finish") from None


def _progress(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def main() -> int:
    began = time.monotonic()
    report = Report(sys.stdout)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)
    services = contextlib.ExitStack()
    status = 1
    try:
        report.title("signers demo: Smart Sessions with the owner key in AWS KMS and the session key in an HSM")
        _hold_lock(services)
        _progress("creating a private SoftHSM token under .state/demo/softhsm ...")
        token = start_softhsm(services, STATE / "softhsm", "signers-demo", PIN_ENV)
        kms = start_localstack(services, _progress)
        deployment, chain_started = start_chain(services, _progress)
        run_flow(report, token, kms, deployment, chain_started, STATE, _progress)
        report.done(time.monotonic() - began)
        status = 0
    except KeyboardInterrupt:
        print("\nerror: interrupted (Ctrl-C); stopping what the demo started", file=sys.stderr)
        status = 130
    except Terminated as exc:
        print(f"\nerror: {exc} received; stopping what the demo started", file=sys.stderr)
        status = 143
    except DemoFailure as exc:
        print(f"\nerror: demo step failed: {exc}", file=sys.stderr)
    except Exception as exc:  # any other failure: say what it was, with the trace for a bug report
        traceback.print_exc()
        print(f"\nerror: the demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        # no second Ctrl-C may cut the clean-up short: it is what leaves no process running
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        _progress("stopping the services started by the demo ...")
        try:
            services.close()
        except Exception as exc:
            print(f"error: stopping the services failed: {exc}", file=sys.stderr)
            status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
