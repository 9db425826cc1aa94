"""Clients of the real google-cloud-kms library, and the bounded deadlines and retries every call uses.

Two ways to reach Cloud KMS: Application Default Credentials against Google (the library's own transport),
or ``endpoint=host:port``, an insecure gRPC channel to a local emulator. For the latter the transport must be
built around the channel: ``api_endpoint`` with anonymous credentials makes the library try TLS and hang in
its default retry for 60 s. The library's default retry allows 60 s per call; every call here passes an
explicit per-attempt timeout and a retry bounded by a total deadline, on UNAVAILABLE, DEADLINE_EXCEEDED
and RESOURCE_EXHAUSTED only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.api_core import exceptions as gexc
from google.api_core import retry as sync_retry
from google.api_core import retry_async
from google.cloud.kms_v1 import KeyManagementServiceAsyncClient, KeyManagementServiceClient
from google.cloud.kms_v1.services.key_management_service.transports import (
    KeyManagementServiceGrpcAsyncIOTransport,
    KeyManagementServiceGrpcTransport,
)
from signers.errors import ConfigurationError

RETRYABLE = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.ResourceExhausted)

DEFAULT_TIMEOUT = 5.0  # seconds per attempt: a sign takes milliseconds, generation of a key a few seconds
DEFAULT_DEADLINE = 15.0  # seconds for all attempts of one call


def check_endpoint(endpoint: str) -> str:
    """``host:port`` of a local emulator; refuses non-loopback hosts, which would get plaintext requests."""
    host, sep, port = endpoint.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"gcp-kms: endpoint={endpoint!r} is not host:port", hint="e.g. endpoint=127.0.0.1:9010")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(
            f"gcp-kms: endpoint={endpoint!r} is not a loopback address",
            hint="endpoint= is for a local emulator over plaintext gRPC; omit it to reach Google with ADC",
        )
    return endpoint


def sync_client(endpoint: str | None = None, credentials: Any = None) -> KeyManagementServiceClient:
    if endpoint is None:
        return KeyManagementServiceClient(credentials=credentials)
    channel = grpc.insecure_channel(check_endpoint(endpoint))
    return KeyManagementServiceClient(transport=KeyManagementServiceGrpcTransport(channel=channel))


def async_client(endpoint: str | None = None, credentials: Any = None) -> KeyManagementServiceAsyncClient:
    """Call from inside the running event loop: a grpc.aio channel belongs to the loop it was made in."""
    if endpoint is None:
        return KeyManagementServiceAsyncClient(credentials=credentials)
    channel = grpc.aio.insecure_channel(check_endpoint(endpoint))
    return KeyManagementServiceAsyncClient(transport=KeyManagementServiceGrpcAsyncIOTransport(channel=channel))


@dataclass(frozen=True)
class CallPolicy:
    """Per-attempt timeout and total deadline of every call; retries back off from 50 ms up to 1 s."""

    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    retry: sync_retry.Retry = field(init=False, repr=False)
    async_retry: retry_async.AsyncRetry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.timeout > 0 and self.deadline > 0):
            raise ConfigurationError("gcp-kms: timeout and deadline must be positive numbers of seconds")
        predicate = sync_retry.if_exception_type(*RETRYABLE)
        retry = sync_retry.Retry(predicate=predicate, initial=0.05, maximum=1.0, multiplier=2.0, timeout=self.deadline)
        async_retry = retry_async.AsyncRetry(
            predicate=predicate, initial=0.05, maximum=1.0, multiplier=2.0, timeout=self.deadline
        )
        object.__setattr__(self, "retry", retry)
        object.__setattr__(self, "async_retry", async_retry)
