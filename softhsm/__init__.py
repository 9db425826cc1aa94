"""SoftHSM2 for this repository: a thin wrapper over signers.testing.softhsm, with the repository's state folder
(.state/) as the default."""

import os
from pathlib import Path

REPO_STATE = Path(__file__).resolve().parent.parent / ".state"
os.environ.setdefault("SIGNERS_TESTING_STATE", str(REPO_STATE))
