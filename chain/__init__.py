"""The local ERC-4337 chain stack for this repository: a thin wrapper over signers.testing.chain with the
repository's defaults (state in .state/chain, ports 8545 and 4337, the stack the lead keeps running).
``from chain import stack`` for its start/stop API."""

import os
from pathlib import Path

os.environ.setdefault("SIGNERS_TESTING_STATE", str(Path(__file__).resolve().parent.parent / ".state"))
os.environ.setdefault("SIGNERS_CHAIN_RPC_PORT", "8545")
os.environ.setdefault("SIGNERS_CHAIN_BUNDLER_PORT", "4337")
