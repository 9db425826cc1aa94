"""The local ERC-4337 chain stack for tests (stack.py; installed by install.py), and its contracts as package data."""
