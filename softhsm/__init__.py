"""Tooling for the project's private SoftHSM2 tokens (see tokens.py)."""
