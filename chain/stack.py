"""The repository's chain stack command (see chain/README.md): signers.testing.chain.stack with this repository's
defaults (set by the chain package).

    python chain/stack.py start|status|stop
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: make the repository's `chain` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chain  # noqa: E402,F401  (sets the repository's defaults before the stack module reads them)
from signers.testing.chain.stack import *  # noqa: E402,F403
from signers.testing.chain.stack import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv))
