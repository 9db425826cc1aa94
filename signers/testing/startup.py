"""How long each service of signers.testing takes to start on this machine (medians), after its one-time install.

    python -m signers.testing.startup [runs]      (default 5 runs each; SIGNERS_TESTING_STATE as for the plugin)

Each run starts the service the way its fixture does, on free ports, waits for its readiness check, and stops
it. Installs are done (and not timed) before the first run. A chain stack already running in the state folder
would be reused, not started, so it is refused here: point SIGNERS_TESTING_STATE elsewhere or stop it first.
Needs every service's requirements: softhsm2, signers-pkcs11, boto3 (signers-aws-kms), signers-gcp-kms, Node.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

from .config import state_dir


def _timed(run: Callable[[], Callable[[], object]], runs: int) -> list[float]:
    """``run`` starts a service and returns its stop; the time to ready of each run."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        stop = run()
        times.append(time.perf_counter() - began)
        stop()
    return times


def softhsm_token() -> Callable[[], object]:
    from .softhsm import private_token

    block = private_token(state_dir("softhsm") / f"startup-{os.getpid()}", "startup", "SIGNERS_STARTUP_PIN")
    token = block.__enter__()
    token.generate_key()  # a token with a key on it is what a test gets
    return lambda: block.__exit__(None, None, None)


def localstack_kms() -> Callable[[], object]:
    from . import localstack

    localstack.set_test_environment()
    server = localstack.start(0)
    return lambda: localstack.stop(server.port)


def localstack_first_key() -> Callable[[], object]:
    from . import localstack

    localstack.set_test_environment()
    server = localstack.start(0)
    server.create_key()  # the first KMS call builds LocalStack's catalog (~2 s)
    return lambda: localstack.stop(server.port)


def gcp_kms_emulator() -> Callable[[], object]:
    from .gcp_kms import running_emulator

    block = running_emulator()
    block.__enter__()
    return lambda: block.__exit__(None, None, None)


def aa_chain() -> Callable[[], object]:
    from .chain import stack

    deployment, started_here = stack.start()
    if not started_here:
        raise RuntimeError(f"a chain stack already runs in {stack.STATE}: this would time its reuse, not a start")
    return stack.stop


def main(argv: list[str]) -> int:
    runs = int(argv[1]) if len(argv) > 1 else 5
    for name in ("LOCALSTACK_PORT", "SIGNERS_CHAIN_RPC_PORT", "SIGNERS_CHAIN_BUNDLER_PORT"):
        os.environ.pop(name, None)  # free ports: never the shared services' ones
    from . import localstack
    from .chain import install, stack

    localstack.install()
    install.install()
    if stack.status() is not None:
        print(f"error: a chain stack already runs in {stack.STATE}; use another SIGNERS_TESTING_STATE", file=sys.stderr)
        return 1
    checks: list[tuple[str, Callable[[], Callable[[], object]], float]] = [
        ("softhsm_token (token + one key)", softhsm_token, 1.0),
        ("localstack_kms (KMS ready)", localstack_kms, 15.0),
        ("localstack_kms (ready + first key)", localstack_first_key, 15.0),
        ("gcp_kms_emulator (channel ready)", gcp_kms_emulator, 2.0),
        ("aa_chain (deployed, bundler ready)", aa_chain, 10.0),
    ]
    print(f"{'fixture':38} {'median':>8} {'min':>8} {'max':>8} {'target':>8}   ({runs} runs)")
    for name, run, target in checks:
        times = _timed(run, runs)
        median = statistics.median(times)
        print(f"{name:38} {median:7.2f}s {min(times):7.2f}s {max(times):7.2f}s {target:7.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
