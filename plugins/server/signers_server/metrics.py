"""Prometheus metrics, served on their own port (never on the signing port, never with a token in a label).

Labels are bounded: method names outside the known set are counted as "other", clients are configured
names (or "anonymous"), backends are URI schemes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from .config import KNOWN_METHODS
from .readers import ConfigError


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "signers_requests",
            "JSON-RPC calls by method, client and outcome",
            ["method", "client", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "signers_signing_seconds",
            "time to produce a signature, by backend",
            ["backend"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.backend_errors = Counter(
            "signers_backend_errors",
            "signing failures at the backend, by kind",
            ["backend", "kind"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "signers_policy_refusals", "requests refused by a policy, by policy", ["policy"], registry=self.registry
        )
        self.rate_limited = Counter(
            "signers_rate_limited", "requests refused by the rate limit, by client", ["client"], registry=self.registry
        )
        self.in_flight = Gauge("signers_in_flight", "HTTP requests being served", registry=self.registry)

    @staticmethod
    def method_label(method: object) -> str:
        if isinstance(method, str) and method in KNOWN_METHODS:
            return method
        if isinstance(method, str) and method.startswith("eth_"):
            return "eth_node"  # proxied reads, one label: a client cannot grow the label set
        return "other"

    def serve(self, host: str, port: int) -> None:
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"metrics.port: cannot listen on {host}:{port} ({exc.strerror})") from None
