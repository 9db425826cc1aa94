"""Install the local chain stack under ``<state>/chain`` from the npm registry. Idempotent; redoes only what changed.

- ``npm/``: anvil, the EntryPoint v0.7 artifacts, the Alto bundler and solc-js, pinned by this folder's
  package-lock.json (shipped in the wheel, so no git checkout is needed);
- ``modulekit/``: @rhinestone/modulekit through ``npm pack`` (its own ``npm install`` needs GitHub
  dependencies): Nexus 1.0.1 and Smart Sessions bytecode from its precompiles;
- ``build/``: this folder's contracts/*.sol compiled with solc-js (compile.cjs).

Stamps name what each step was made from (a hash of the lock file, the modulekit version, a hash of the sources),
so a changed lock file or contract is picked up. Cold: ~30 s and ~440 MB.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from signers.testing.config import MissingDependency, require, state_root

HERE = Path(__file__).resolve().parent
# SIGNERS_CHAIN_STATE names the chain's folder itself (a second, private stack next to a shared one)
STATE = Path(os.environ.get("SIGNERS_CHAIN_STATE") or state_root() / "chain").resolve()
NODE_MODULES = STATE / "npm" / "node_modules"
MODULEKIT = STATE / "modulekit"
BUILD = STATE / "build" / "contracts.json"
MODULEKIT_VERSION = "0.5.9"
NODE_INSTALL = "apt-get install -y nodejs npm (Node.js >= 18; or from https://nodejs.org)"


def _hash(*files: Path) -> str:
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]


def _stamp(folder: Path, name: str) -> None:
    for old in folder.glob(name.split("-", 1)[0] + "-*"):
        old.unlink()
    (folder / name).touch()


def need_node() -> None:
    node = require("node", NODE_INSTALL)
    require("npm", NODE_INSTALL)
    major = subprocess.run([node, "-p", "process.versions.node.split('.')[0]"], capture_output=True, text=True)
    if major.returncode != 0 or int(major.stdout.strip() or 0) < 18:
        raise MissingDependency(f"Node.js >= 18 is needed for the chain stack; install it with: {NODE_INSTALL}")


def _log(message: str) -> None:
    print(f"chain: {message}", file=sys.stderr, flush=True)


def install() -> None:
    need_node()
    npm_dir = STATE / "npm"
    npm_dir.mkdir(parents=True, exist_ok=True)

    # 1. npm packages, pinned by package-lock.json
    lock = f".installed-{_hash(HERE / 'package.json', HERE / 'package-lock.json')}"
    if not (npm_dir / lock).exists():
        _log(f"installing the chain stack's npm packages into {npm_dir} (~30 s, once)")
        shutil.copy(HERE / "package.json", npm_dir)
        shutil.copy(HERE / "package-lock.json", npm_dir)
        # `npm install` with the lock file in place, not `npm ci`: npm 10/11 leave other platforms' optional
        # packages (anvil-darwin-*, msgpackr-extract-*) out of the lock file, which `npm ci` then rejects as out
        # of sync. Every version stays the one the lock file names.
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=npm_dir, check=True,
                       stdout=sys.stderr)  # fmt: skip
        # anvil comes as a platform package: fail here, not at first start, if it is missing
        subprocess.run([str(NODE_MODULES / ".bin" / "anvil"), "--version"], check=True, capture_output=True)
        _stamp(npm_dir, lock)

    # 2. modulekit's precompiles
    if not (MODULEKIT / f".installed-{MODULEKIT_VERSION}").exists():
        _log(f"fetching @rhinestone/modulekit@{MODULEKIT_VERSION} (npm pack)")
        shutil.rmtree(MODULEKIT, ignore_errors=True)
        MODULEKIT.mkdir(parents=True)
        subprocess.run(["npm", "pack", f"@rhinestone/modulekit@{MODULEKIT_VERSION}", "--silent"], cwd=MODULEKIT,
                       check=True, capture_output=True)  # fmt: skip
        archive = MODULEKIT / f"rhinestone-modulekit-{MODULEKIT_VERSION}.tgz"
        with tarfile.open(archive) as tar:
            tar.extractall(MODULEKIT, filter="data")
        archive.unlink()
        if not (MODULEKIT / "package/src/deployment/precompiles/NexusPrecompiles.sol").exists():
            raise RuntimeError(f"@rhinestone/modulekit@{MODULEKIT_VERSION} has no NexusPrecompiles.sol")
        (MODULEKIT / f".installed-{MODULEKIT_VERSION}").touch()

    # 3. our contracts, recompiled when a source or the compiler changes
    sources = sorted((HERE / "contracts").glob("*.sol"))
    compiled = f".compiled-{_hash(*sources, HERE / 'compile.cjs', HERE / 'package-lock.json')}"
    if not (BUILD.parent / compiled).exists():
        subprocess.run(["node", str(HERE / "compile.cjs"), str(NODE_MODULES), str(BUILD)], check=True)
        _stamp(BUILD.parent, compiled)
