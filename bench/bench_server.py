"""The signing service (``signers serve``) against the same signature in-process, local key and SoftHSM.

    .venv/bin/python bench/bench_server.py

Rows, per key: the median latency of one ``personal_sign`` through the service (keep-alive HTTP on loopback,
the stdlib client: the least client overhead) next to ``Signer.sign_message`` in-process, and the difference
(target: added latency <= 1 ms); the service's own CPU per request beyond the backend's (the server process's
CPU time over N sequential requests, minus the in-process CPU of the same N signatures: the conversion,
self-check and device call both sides do; target <= 400 us); the same latency through the Python client backend
(``signers+http``, which also checks the signature it gets). For SoftHSM: throughput with 32 concurrent clients
through the service against in-process signing on one thread (target >= 0.6), the load generator on the same
cores as the service (bench/load.py: 32 keep-alive connections on one event loop, every answer checked and
each connection's last signature recovered), for the key signed in its own threads and in a ``processes = 2``
SigningPool.
Rounds alternate the two sides, so that load from other processes hits both alike.
The token is a private SoftHSM under .state/softhsm/bench-server-<pid>/ (removed at the end).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, print_table  # noqa: E402
from bench.load import concurrent_rate  # noqa: E402
from signers.testing.server import RunningServer, ServerFactory  # noqa: E402

GROUP = "server"
PIN_ENV = "SIGNERS_BENCH_SERVER_PKCS11_PIN"
KEY_ENV = "SIGNERS_BENCH_SERVER_LOCAL_KEY"
TOKEN_ENV = "SIGNERS_BENCH_SERVER_TOKEN"
MESSAGE = b"bench: a payment instruction of 48 bytes, signed"
CLIENTS = 32
THROUGHPUT_ROUNDS = 5
ROUNDS = 9
PER_ROUND = 60
CPU_REQUESTS = 2100
CPU_ROUNDS = 7  # of 300 requests: /proc's CPU time counts in ticks of 10 ms, 300 requests take ~100-200 ms
POOL_PROCESSES = 2
TICK = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _service(directory: Path, keys: dict[str, dict[str, Any]], token: str) -> Iterator[tuple[RunningServer, int]]:
    """``signers serve`` in a process of its own on a free loopback port (signers.testing.server), with its access
    log on (as deployed); (the server, its port)."""
    from signers_server.auth import token_hash

    config = {
        "server": {"chain_id": 1},
        "keys": keys,
        "clients": {"bench": {"keys": list(keys), "token_hash": token_hash(token), "rate_per_second": 1e6,
                              "rate_burst": 1_000_000, "hash_messages": True}},
        "limits": {"rate_per_second": 1e6, "rate_burst": 1_000_000},
    }  # fmt: skip
    factory = ServerFactory(directory)
    try:
        server = factory(config)
        yield server, int(server.config["server"]["port"])
    finally:
        factory.stop_all()


class Caller:
    """One keep-alive HTTP connection to the service, posting personal_sign for one address (or another
    method: eth_chainId measures what HTTP, ASGI and authentication cost without signing)."""

    def __init__(self, port: int, token: str, address: str, method: str = "personal_sign") -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        params = ["0x" + MESSAGE.hex(), address] if method == "personal_sign" else []
        self.body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()

    def __call__(self) -> str:
        self.connection.request("POST", "/", self.body, self.headers)
        answer = json.loads(self.connection.getresponse().read())
        if "result" not in answer:
            raise RuntimeError(f"the service answered {answer}")
        return str(answer["result"])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _latencies(service: Callable[[], object], local: Callable[[], object]) -> tuple[float, float]:
    """Median seconds of one call of each, over alternating rounds of single timed calls."""
    for _ in range(20):
        service(), local()
    remote_times: list[float] = []
    local_times: list[float] = []
    for _ in range(ROUNDS):
        for fn, out in ((service, remote_times), (local, local_times)):
            for _ in range(PER_ROUND):
                start = time.perf_counter()
                fn()
                out.append(time.perf_counter() - start)
    return statistics.median(remote_times), statistics.median(local_times)


def _service_cpu(pid: int, service: Callable[[], object], local: Callable[[], object]) -> tuple[float, float]:
    """(the server's CPU seconds per request, the in-process CPU seconds per signature): medians over rounds
    that alternate the two sides, so that a slow spell of the machine hits both alike."""
    server: list[float] = []
    inside: list[float] = []
    per_round = CPU_REQUESTS // CPU_ROUNDS
    for _ in range(CPU_ROUNDS):
        before = _cpu_seconds(pid)
        for _ in range(per_round):
            service()
        server.append((_cpu_seconds(pid) - before) / per_round)
        start = time.process_time()
        for _ in range(per_round):
            local()
        inside.append((time.process_time() - start) / per_round)
    return statistics.median(server), statistics.median(inside)


def _concurrent_rate(port: int, token: str, address: str, seconds: float) -> tuple[float, float]:
    """(answers per second of CLIENTS connections signing back to back, the load generator's CPU per answer);
    the last signature of every connection must recover to ``address``."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    payload = {"jsonrpc": "2.0", "id": 1, "method": "personal_sign", "params": ["0x" + MESSAGE.hex(), address]}
    cpu = time.process_time()
    load = concurrent_rate(port, token, payload, CLIENTS, seconds)
    cpu = (time.process_time() - cpu) / (load.rate * seconds)
    if len(load.results) != CLIENTS:
        raise RuntimeError(f"{CLIENTS - len(load.results)} of {CLIENTS} connections got no answer")
    for signature in load.results:
        assert Account.recover_message(encode_defunct(MESSAGE), signature=signature) == address
    return load.rate, cpu


def run() -> list[Row]:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    import signers
    from softhsm.private import private_token

    rows: list[Row] = []
    token = "sgn_" + secrets.token_urlsafe(32)
    os.environ[KEY_ENV] = "0x" + secrets.token_bytes(32).hex()
    os.environ[TOKEN_ENV] = token
    state = ROOT / ".state" / "bench" / f"server-{os.getpid()}"
    state.mkdir(parents=True, exist_ok=True)
    with private_token(ROOT / ".state" / "softhsm" / f"bench-server-{os.getpid()}", "bench", PIN_ENV) as hsm:
        keys: dict[str, dict[str, Any]] = {
            "local": {"uri": f"local:env:{KEY_ENV}"},
            "softhsm": {"uri": hsm.generate_key("bench-server")},
            # the deployment path for PKCS#11 throughput: a key of the same token signed in a pool of processes
            "softhsm-pool": {"uri": hsm.generate_key("bench-server-pool"), "processes": POOL_PROCESSES},
        }
        # in-process signers log in before the service starts: a SoftHSM login from another process rewrites
        # the token's files, and the service's SoftHSM then re-reads them (measured: 2.5 ms instead of 1 ms)
        inside_signers = {uri: signers.load_signer(uri) for uri in {key["uri"] for key in keys.values()}}
        with _service(state, keys, token) as (server, port):
            for name, key in keys.items():
                signer = inside_signers[key["uri"]]
                remote = signers.load_signer(f"signers+http://127.0.0.1:{port}/{name}?token-source=env:{TOKEN_ENV}")
                service = Caller(port, token, signer.address)
                signature = service()
                assert Account.recover_message(encode_defunct(MESSAGE), signature=signature) == signer.address

                def local(signer: Any = signer) -> object:
                    return signer.sign_message(MESSAGE)

                through, inside = _latencies(service, local)
                rows.append(Row(GROUP, f"{name}: personal_sign through the service", through * 1e6, "us"))
                rows.append(
                    Row(
                        GROUP,
                        f"{name}: added latency (service - in-process {inside * 1e6:.0f} us)",
                        (through - inside) * 1e6,
                        "us",
                        through / inside,
                        "in-process sign_message",
                        "target <= 1,000 us; median, loopback keep-alive",
                    )
                )
                client, _ = _latencies(lambda remote=remote: remote.sign_message(MESSAGE), local)
                rows.append(
                    Row(
                        GROUP,
                        f"{name}: Signer over signers+http (client self-check included)",
                        client * 1e6,
                        "us",
                        client / inside,
                        "in-process sign_message",
                    )
                )
                if "processes" not in key:  # a pool's workers are other processes: their CPU is not the server's
                    server_cpu, local_cpu = _service_cpu(server.process.pid, service, local)
                    rows.append(
                        Row(
                            GROUP,
                            f"{name}: service CPU per request beyond the backend's ({server_cpu * 1e6:.0f} - "
                            f"{local_cpu * 1e6:.0f} us)",
                            (server_cpu - local_cpu) * 1e6,
                            "us",
                            None,
                            "",
                            "target <= 400 us; server process CPU time / requests",
                        )
                    )
                if name == "local":
                    floor, _ = _service_cpu(
                        server.process.pid, Caller(port, token, signer.address, "eth_chainId"), local
                    )
                    rows.append(
                        Row(
                            GROUP,
                            "service CPU per eth_chainId request (HTTP, ASGI, auth, access log; no signing)",
                            floor * 1e6,
                            "us",
                            None,
                            "",
                            "the floor under every signing request",
                        )
                    )
                if name.startswith("softhsm"):
                    rates, ratios, loader = [], [], []
                    for _ in range(THROUGHPUT_ROUNDS):
                        one = 1 / _per_call(local, 1500)
                        rate, cpu = _concurrent_rate(port, token, signer.address, 3.0)
                        rates.append(rate)
                        ratios.append(rate / one)
                        loader.append(cpu)
                    rows.append(
                        Row(
                            GROUP,
                            f"{name}: {CLIENTS} concurrent clients through the service",
                            statistics.median(rates),
                            "sig/s",
                            statistics.median(ratios),
                            "in-process, 1 thread",
                            f"target >= 0.6; load generator on the same cores "
                            f"({statistics.median(loader) * 1e6:.0f} us CPU per answer); median of paired rounds",
                        )
                    )
                remote.close()
        for signer in inside_signers.values():
            signer.close()
    return rows


if __name__ == "__main__":
    print_table(run(), "signers serve against in-process signing")
