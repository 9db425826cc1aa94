"""PostgreSQL for this repository: a thin wrapper over signers.testing.postgres with the repository's state folder
(.state/postgres) as the default."""

import os
from pathlib import Path

os.environ.setdefault("SIGNERS_TESTING_STATE", str(Path(__file__).resolve().parent.parent / ".state"))
