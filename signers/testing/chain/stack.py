"""The local ERC-4337 chain stack: anvil + EntryPoint v0.7 + Nexus 1.0.1 + Smart Sessions + Alto, on 127.0.0.1.

    python -m signers.testing.chain start     start (or reuse) the stack; prints the deployment as JSON
    python -m signers.testing.chain status    exit 0 and print the deployment if the stack answers, else exit 1
    python -m signers.testing.chain stop      stop the processes the stack's pid files name (only those)
    python -m signers.testing.chain install   the npm packages, modulekit and the compiled contracts (install.py)

Everything lives under ``<state>/chain`` (SIGNERS_TESTING_STATE, see signers.testing.config; SIGNERS_CHAIN_STATE
names the folder itself): npm packages and modulekit (installed on demand), compiled contracts, logs, pid files
and deployment.json (every address). Ports: SIGNERS_CHAIN_RPC_PORT and SIGNERS_CHAIN_BUNDLER_PORT (0 or unset:
free ports chosen at start). Each start is a fresh chain: anvil keeps no state.
The folder and the ports are read when this module is imported.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from signers.testing.chain import install
from signers.testing.config import HOST, configured_port, free_port, port_free
from signers.testing.process import stop_group, wait_ready

HERE = Path(__file__).resolve().parent
STATE = install.STATE
NODE_MODULES = install.NODE_MODULES
PRECOMPILES = install.MODULEKIT / "package" / "src" / "deployment" / "precompiles"
BUILD = install.BUILD
DEPLOYMENT = STATE / "deployment.json"

CHAIN_ID = 31337

# Canonical addresses (spec/smart-sessions.md section 0); the policies and the session validator are this
# project's own contracts (chain/contracts), placed at the canonical addresses so address tables work unchanged.
ENTRY_POINT = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
ENTRY_POINT_SALT = bytes.fromhex("90d8084deab30c2a37c45e8d47f49f2f7965183cb6990a98943ef94940681de3")
DETERMINISTIC_DEPLOYER = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
SMART_SESSIONS = "0x00000000008bDABA73cD9815d79069c247Eb4bDA"
# where modulekit's (older) SmartSession build runs, behind SmartSessionAbiAdapter at SMART_SESSIONS; must equal
# SmartSessionAbiAdapter.IMPLEMENTATION
SMART_SESSIONS_IMPLEMENTATION = "0x000000000000000000000000000000005e551011"
# the Rhinestone ERC-7484 registry address that build consults; an attest-all stub of ours is placed there
MODULE_REGISTRY = "0x000000000069E2a187AEFFb852bF3cCdC95151B2"
CANONICAL: dict[str, str] = {
    "OwnableValidator": "0x0000000000E9E6E96Bcaa3c113187CdB7E38AED9",
    "SudoPolicy": "0x0000000000FEEc8D74e3143fBaBbca515358d869",
    "TimeFramePolicy": "0x0000000000D30f611fA3bf652ac6879428586930",
    "UniActionPolicy": "0x0000000000714Cf48FcF88A0bFBa70d313415032",
    "ValueLimitPolicy": "0x000000000021dC45451291BCDfc9f0B46d6f0278",
    "UsageLimitPolicy": "0x00000000001d4479FA2A947026204d0283ceDe4B",
    "ERC20SpendingLimitPolicy": "0x000000000033212E272655D8a22402Db819477A6",
}
# deployed with CREATE2 through the deterministic deployer (salt 0): same address on every fresh start
CREATE2_CONTRACTS = ("K1Validator", "Counter", "TestToken")

# anvil's default dev accounts (mnemonic "test test ... junk"): 0 deploys, 1 and 2 are Alto's executor and
# utility wallets, 3..9 are free for tests and the demo.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 10
DEPLOYER_INDEX, EXECUTOR_INDEX, UTILITY_INDEX = 0, 1, 2
FIRST_FREE_INDEX = 3

READY_TIMEOUT_S = 60.0


class StackError(RuntimeError):
    """The chain stack could not be started, reached or stopped; the message says what to do."""


def log(msg: str) -> None:
    print(f"chain: {msg}", file=sys.stderr, flush=True)


def rpc_port() -> int:
    return configured_port("SIGNERS_CHAIN_RPC_PORT")


def bundler_port() -> int:
    return configured_port("SIGNERS_CHAIN_BUNDLER_PORT")


# ---------------------------------------------------------------------------------------------- JSON-RPC


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 30.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.load(resp)
    if "error" in reply:
        raise StackError(f"{method} failed at {url}: {reply['error']}")
    return reply["result"]


def answers(url: str, method: str) -> bool:
    try:
        rpc(url, method, timeout=2.0)
        return True
    except (OSError, StackError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------- processes


def _pid_file(name: str) -> Path:
    return STATE / f"{name}.pid"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/pid/stat): guards against a recycled pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _write_pid(name: str, pid: int) -> None:
    _pid_file(name).write_text(json.dumps({"pid": pid, "start_time": _start_time(pid)}))


def _recorded_pid(name: str) -> int | None:
    """The pid this stack started under `name`, if that very process is still alive."""
    try:
        data = json.loads(_pid_file(name).read_text())
    except (OSError, ValueError):
        return None
    pid = int(data["pid"])
    if _start_time(pid) is None or _start_time(pid) != data.get("start_time"):
        return None
    return pid


def _stop_process(name: str) -> bool:
    pid = _recorded_pid(name)
    _pid_file(name).unlink(missing_ok=True)
    if pid is None:
        return False
    # Each process was started in its own session (pgid = pid): signal the whole group, so that the real
    # anvil / alto under the `node .bin/...` wrapper stops too, not only the wrapper.
    stop_group(pid)
    log(f"stopped {name} (pid {pid})")
    return True


def _spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    log_file = STATE / f"{name}.log"
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=STATE,  # Alto reads a .env from its cwd: keep it out of the repo's
            env={**os.environ, **(env or {})},
            start_new_session=True,  # a Ctrl-C in the caller's terminal does not reach it; stop() does
        )
    _write_pid(name, proc.pid)
    return proc, log_file


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialises start/stop between processes (parallel pytest sessions, the demo)."""
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------- dev keys


def dev_private_keys() -> list[bytes]:
    """anvil's default dev keys (public test keys, derived from the well-known mnemonic)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return [
        bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key)
        for i in range(DEV_ACCOUNT_COUNT)
    ]


def _address_of(key: bytes) -> str:
    from eth_account import Account

    return str(Account.from_key(key).address)


# ---------------------------------------------------------------------------------------------- deployment


def _ensure_installed() -> None:
    # install decides what is out of date (it hashes the lock file and the contract sources), so a changed
    # contract is recompiled on the next start; when nothing changed it returns in well under a second
    install.install()


def _precompile(file: str, name: str) -> bytes:
    src = (PRECOMPILES / file).read_text()
    m = re.search(rf"\b{name}\s*=\s*hex\"([0-9a-fA-F]+)\"", src)
    if not m:
        raise StackError(f"{name} not found in modulekit's {file}; run: python -m signers.testing.chain install")
    return bytes.fromhex(m.group(1))


class _Deployer:
    def __init__(self, url: str, sender: str) -> None:
        self.url = url
        self.sender = sender

    def code(self, address: str) -> bytes:
        return bytes.fromhex(rpc(self.url, "eth_getCode", [address, "latest"])[2:])

    def send(self, to: str | None, data: bytes, gas: int = 15_000_000) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": self.sender, "data": "0x" + data.hex(), "gas": hex(gas)}
        if to:
            tx["to"] = to
        tx_hash = rpc(self.url, "eth_sendTransaction", [tx])
        receipt: dict[str, Any] | None = None
        deadline = time.monotonic() + 30
        while receipt is None:  # anvil automines, but the receipt can trail the hash by a moment
            receipt = rpc(self.url, "eth_getTransactionReceipt", [tx_hash])
            if receipt is None:
                if time.monotonic() > deadline:
                    raise StackError(f"deployment transaction {tx_hash} was not mined within 30 s")
                time.sleep(0.01)
        if int(receipt["status"], 16) != 1:
            raise StackError(f"deployment transaction {tx_hash} reverted")
        return receipt

    def create2(self, init_code: bytes, salt: bytes = bytes(32)) -> str:
        """Deploys through the deterministic deployer; the address depends only on init code and salt."""
        digest = keccak(b"\xff" + bytes.fromhex(DETERMINISTIC_DEPLOYER[2:]) + salt + keccak(init_code))
        address = to_checksum_address(digest[12:])
        if not self.code(address):
            self.send(DETERMINISTIC_DEPLOYER, salt + init_code)
            if not self.code(address):
                raise StackError(f"CREATE2 deployment to {address} left no code")
        return address

    def set_code(self, address: str, runtime: bytes) -> str:
        rpc(self.url, "anvil_setCode", [address, "0x" + runtime.hex()])
        return to_checksum_address(address)


def _deploy(url: str, deployer_address: str) -> dict[str, Any]:
    d = _Deployer(url, deployer_address)
    if not d.code(DETERMINISTIC_DEPLOYER):
        raise StackError("the deterministic deployer is missing from anvil; is this anvil >= 0.2?")

    # EntryPoint v0.7 from its own Hardhat artifact, through the deterministic deployer: its constructor
    # creates the SenderCreator, which anvil_setCode would not.
    artifact = json.loads((NODE_MODULES / "@account-abstraction/contracts/artifacts/EntryPoint.json").read_text())
    entry_point = d.create2(bytes.fromhex(artifact["bytecode"][2:]), ENTRY_POINT_SALT)
    if entry_point != ENTRY_POINT:
        raise StackError(f"EntryPoint landed at {entry_point}, not {ENTRY_POINT}: wrong artifact version")

    # Nexus 1.0.1 from modulekit's precompiles (creation code; constructor arguments appended)
    nexus = "NexusPrecompiles.sol"
    implementation = d.create2(_precompile(nexus, "NEXUS_BYTECODE") + abi_encode(["address"], [ENTRY_POINT]))
    bootstrap = d.create2(_precompile(nexus, "NEXUS_BOOTSTRAP_BYTECODE"))
    factory = d.create2(
        _precompile(nexus, "NEXUS_ACCOUNT_FACTORY_BYTECODE")
        + abi_encode(["address", "address"], [implementation, deployer_address])
    )

    # Smart Sessions: modulekit's runtime code (no constructor, no immutables: address(this) is read at run
    # time) behind this project's ABI adapter at the canonical address, because modulekit's build predates the
    # deployed module's Session struct (see chain/contracts/SmartSessionAbiAdapter.sol)
    build = json.loads(BUILD.read_text())
    smart_sessions_impl = d.set_code(
        SMART_SESSIONS_IMPLEMENTATION,
        _precompile("SmartSessionsPrecompiles.sol", "SMART_SESSION_DEPLOYED_BYTECODE"),
    )
    smart_sessions = d.set_code(SMART_SESSIONS, bytes.fromhex(build["SmartSessionAbiAdapter"]["deployedBytecode"][2:]))
    # that build also asks the ERC-7484 registry about every session validator it enables
    registry = d.set_code(MODULE_REGISTRY, bytes.fromhex(build["AttestAllRegistry"]["deployedBytecode"][2:]))

    own: dict[str, str] = {}
    for name, address in CANONICAL.items():  # no constructor, no immutables: runtime code placed as is
        own[name] = d.set_code(address, bytes.fromhex(build[name]["deployedBytecode"][2:]))
    for name in CREATE2_CONTRACTS:
        own[name] = d.create2(bytes.fromhex(build[name]["bytecode"][2:]))

    return {
        "entry_point": entry_point,
        "deterministic_deployer": DETERMINISTIC_DEPLOYER,
        "nexus": {"implementation": implementation, "bootstrap": bootstrap, "factory": factory},
        "smart_sessions": smart_sessions,
        "smart_sessions_implementation": smart_sessions_impl,
        "module_registry": registry,
        "ownable_validator": own["OwnableValidator"],
        "policies": {
            "sudo": own["SudoPolicy"],
            "time_frame": own["TimeFramePolicy"],
            "uni_action": own["UniActionPolicy"],
            "value_limit": own["ValueLimitPolicy"],
            "usage_limit": own["UsageLimitPolicy"],
            "erc20_spending_limit": own["ERC20SpendingLimitPolicy"],
        },
        "k1_validator": own["K1Validator"],
        "counter": own["Counter"],
        "test_token": own["TestToken"],
    }


# ---------------------------------------------------------------------------------------------- commands


def status() -> dict[str, Any] | None:
    """The deployment record if both processes this stack started are alive and answering, else None."""
    if _recorded_pid("anvil") is None or _recorded_pid("alto") is None:
        return None
    try:
        deployment: dict[str, Any] = json.loads(DEPLOYMENT.read_text())
    except (OSError, ValueError):
        return None
    if not answers(deployment["rpc_url"], "eth_chainId"):
        return None
    if not answers(deployment["bundler_url"], "eth_supportedEntryPoints"):
        return None
    return deployment


def start() -> tuple[dict[str, Any], bool]:
    """Starts the stack unless it already runs. Returns (deployment, started_here)."""
    with _locked():
        running = status()
        if running is not None:
            return running, False
        _stop_all()  # a half-started or crashed stack of ours: clear it before starting again
        _ensure_installed()
        began = time.monotonic()
        node_port = rpc_port() or free_port()
        alto_port = bundler_port() or free_port()
        rpc_url = f"http://{HOST}:{node_port}"
        bundler_url = f"http://{HOST}:{alto_port}"
        for what, port in (("anvil", node_port), ("Alto", alto_port)):
            if not port_free(port):
                raise StackError(
                    f"port {port} for {what} on {HOST} is taken by a process this stack did not start; "
                    "stop it, or choose other ports with SIGNERS_CHAIN_RPC_PORT / SIGNERS_CHAIN_BUNDLER_PORT"
                )
        try:
            anvil, anvil_log = _spawn(
                "anvil",
                [
                    str(NODE_MODULES / ".bin" / "anvil"),
                    "--host", HOST,
                    "--port", str(node_port),
                    "--chain-id", str(CHAIN_ID),
                    "--accounts", str(DEV_ACCOUNT_COUNT),
                    "--mnemonic", DEV_MNEMONIC,
                ],
            )  # fmt: skip
            wait_ready(lambda: answers(rpc_url, "eth_chainId"), "anvil", anvil, anvil_log, READY_TIMEOUT_S, StackError)
            keys = dev_private_keys()
            accounts = [_address_of(k) for k in keys]
            contracts = _deploy(rpc_url, accounts[DEPLOYER_INDEX])

            alto, alto_log = _spawn(
                "alto",
                [
                    "node",
                    "--require", str(HERE / "loopback.cjs"),
                    str(NODE_MODULES / "@pimlico" / "alto" / "esm" / "cli" / "alto.js"),
                    "--entrypoints", ENTRY_POINT,
                    "--rpc-url", rpc_url,
                    "--port", str(alto_port),
                    "--safe-mode", "false",
                    "--log-level", "info",
                ],
                # keys through Alto's ALTO_* environment, not argv (which `ps` shows)
                env={
                    "ALTO_EXECUTOR_PRIVATE_KEYS": "0x" + keys[EXECUTOR_INDEX].hex(),
                    "ALTO_UTILITY_PRIVATE_KEY": "0x" + keys[UTILITY_INDEX].hex(),
                    "LOOPBACK_HOST": HOST,
                },
            )  # fmt: skip
            wait_ready(
                lambda: answers(bundler_url, "eth_supportedEntryPoints"),
                "Alto",
                alto,
                alto_log,
                READY_TIMEOUT_S,
                StackError,
            )
        except BaseException:
            _stop_all()
            raise
        deployment = {
            "rpc_url": rpc_url,
            "bundler_url": bundler_url,
            "chain_id": CHAIN_ID,
            **contracts,
            "dev_accounts": {
                "deployer": accounts[DEPLOYER_INDEX],
                "bundler_executor": accounts[EXECUTOR_INDEX],
                "bundler_utility": accounts[UTILITY_INDEX],
                "free": accounts[FIRST_FREE_INDEX:],
                "first_free_index": FIRST_FREE_INDEX,
            },
            "logs": {"anvil": str(anvil_log), "alto": str(alto_log)},
        }
        tmp = DEPLOYMENT.with_suffix(".tmp")
        tmp.write_text(json.dumps(deployment, indent=2))
        tmp.replace(DEPLOYMENT)
        log(f"stack ready in {time.monotonic() - began:.1f} s: rpc {rpc_url}, bundler {bundler_url}")
        return deployment, True


def _stop_all() -> bool:
    stopped = False
    for name in ("alto", "anvil"):  # the bundler first: it polls the node
        stopped |= _stop_process(name)
    DEPLOYMENT.unlink(missing_ok=True)
    return stopped


def stop() -> bool:
    """Stops the processes recorded in the stack's pid files (and nothing else). True if any was running."""
    with _locked():
        return _stop_all()


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    try:
        if command == "start":
            deployment, _ = start()
            print(json.dumps(deployment, indent=2))
        elif command == "status":
            running = status()
            if running is None:
                print("chain stack: not running", file=sys.stderr)
                return 1
            print(json.dumps(running, indent=2))
        elif command == "stop":
            if not stop():
                log("nothing to stop")
        elif command == "install":
            install.install()
        else:
            print("usage: python -m signers.testing.chain start|status|stop|install", file=sys.stderr)
            return 2
    except (StackError, subprocess.CalledProcessError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
