"""``python -m signers_server --config FILE``: the same as ``signers serve --config FILE``."""

import sys

from signers.cli import main

sys.argv = ["signers", "serve", *sys.argv[1:]]
main()
