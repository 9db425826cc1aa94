import sys

from signers.testing.chain.stack import main

sys.exit(main(sys.argv))
