"""The local ERC-4337 chain stack (see chain/README.md); ``from chain import stack`` for its start/stop API."""
