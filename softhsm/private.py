"""The repository's name for signers.testing.softhsm's private tokens (the demo and the benchmarks import it)."""

from signers.testing.softhsm import PrivateToken, SoftHSMSetupError, private_token

__all__ = ["PrivateToken", "SoftHSMSetupError", "private_token"]
