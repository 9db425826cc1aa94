"""The repository's name for signers.testing.postgres (the audit tests and the benchmark import it)."""

from signers.testing.postgres import Cluster, running_cluster

__all__ = ["Cluster", "running_cluster"]
