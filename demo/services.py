"""Start the real services the flow needs, and stop exactly what was started here.

Used by demo/run.py and bench/bench_e2e.py. Each ``start_*`` takes the caller's ``contextlib.ExitStack`` and
registers the matching stop on it *before* starting, so an interruption half-way through start-up (Ctrl-C while
a script runs) still stops what came up. A service already running (a developer's own LocalStack, a chain stack
started by a pytest session) is reused and left alone.

- SoftHSM: a private configuration and token under .state/<name>/softhsm (never the system one), its user PIN
  random and held only in this process's environment (``pin-source=env:...``); removed at the end.
- LocalStack (AWS KMS): localstack/start and localstack/stop on 127.0.0.1:$LOCALSTACK_PORT (default 4566).
- The chain stack: chain/stack.py start/stop (anvil + EntryPoint v0.7 + Nexus + Smart Sessions + Alto).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from softhsm.private import PrivateToken, private_token

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # softhsm/ is a folder of the repository, importable from its root
    sys.path.insert(0, str(ROOT))

REGION = "us-east-1"
# LocalStack accepts any credentials; these conventional ones are not secrets
AWS_LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}

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
@dataclass(frozen=True)
class LocalStackKms:
    port: int
    started_here: bool

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        import boto3

        return boto3.client("kms", region_name=REGION, endpoint_url=self.endpoint)

    def create_key(self, description: str) -> tuple[str, str]:
        """A new ECC_SECG_P256K1 SIGN_VERIFY key: (key id, aws-kms:// URI)."""
        metadata = self.client().create_key(KeySpec="ECC_SECG_P256K1", KeyUsage="SIGN_VERIFY", Description=description)[
            "KeyMetadata"
        ]
        key_id = metadata["KeyId"]
        uri = f"aws-kms://{key_id}?region={REGION}&endpoint-url={quote(self.endpoint, safe='')}"
        return key_id, uri


def kms_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_localstack/health", timeout=2) as response:
            return json.load(response).get("services", {}).get("kms") in ("available", "running")
    except (OSError, ValueError):
        return False


def _localstack_script(name: str, port: int) -> None:
    env = {**os.environ, "LOCALSTACK_PORT": str(port)}
    subprocess.run([str(ROOT / "localstack" / name)], env=env, check=True, stdin=subprocess.DEVNULL)


def start_localstack(stack: contextlib.ExitStack, progress: Progress = _stderr) -> LocalStackKms:
    for name, value in AWS_LOCAL_ENV.items():
        os.environ.setdefault(name, value)
    port = int(os.environ.get("LOCALSTACK_PORT", "4566"))
    if kms_ready(port):
        progress(f"LocalStack already serves KMS on 127.0.0.1:{port}: reusing it (it will be left running)")
        return LocalStackKms(port, started_here=False)
    progress(f"starting LocalStack (KMS) on 127.0.0.1:{port} ...")
    stack.callback(_localstack_script, "stop", port)  # first: a start interrupted half-way is stopped too
    _localstack_script("start", port)
    return LocalStackKms(port, started_here=True)


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
    from chain import stack as chain

    running = chain.status()
    if running is not None:
        progress(f"chain stack already running at {running['rpc_url']}: reusing it (it will be left running)")
        return running, False
    progress("starting the chain stack (anvil, EntryPoint v0.7, Nexus, Smart Sessions, Alto) ...")
    guard = _StopIfStarted(chain.stop)
    stack.callback(guard)
    deployment, started_here = chain.start()
    guard.armed = started_here
    return deployment, started_here
