"""Clients of the real google-cloud-kms library, and the bounded deadlines and retries every call uses.

Two ways to reach Cloud KMS: Application Default Credentials against Google (the library's own transport),
or ``endpoint=host:port``, an insecure gRPC channel to a local emulator. For the latter the transport must be
built around the channel: ``api_endpoint`` with anonymous credentials makes the library try TLS and hang in
its default retry for 60 s. The library's default retry allows 60 s per call; every call here passes an
explicit per-attempt timeout and a retry bounded by a total deadline, on UNAVAILABLE, DEADLINE_EXCEEDED
and RESOURCE_EXHAUSTED only (``errors.RETRYABLE``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.api_core import exceptions as gexc
from google.api_core import gapic_v1
from google.api_core import retry as sync_retry
from google.cloud.kms_v1 import (
    AsymmetricSignRequest,
    AsymmetricSignResponse,
    KeyManagementServiceAsyncClient,
    KeyManagementServiceClient,
)
from google.cloud.kms_v1.services.key_management_service.transports import (
    KeyManagementServiceGrpcAsyncIOTransport,
    KeyManagementServiceGrpcTransport,
)
from google.cloud.kms_v1.services.key_management_service.transports.base import DEFAULT_CLIENT_INFO

from signers.errors import ConfigurationError
from signers.options import seconds
from signers.retry import Attempt, RetryPolicy

from .errors import RETRYABLE

DEFAULT_TIMEOUT = 5.0  # seconds per attempt: a sign takes milliseconds, generation of a key a few seconds
DEFAULT_DEADLINE = 15.0  # seconds for all attempts of one call
#: the longest timeout or deadline accepted: a signer must answer (or fail) in bounded time, so inf, nan,
#: or hours (a typo such as deadline=9e9) are refused up front instead of hanging a caller
MAX_SECONDS = 600.0
#: pauses between attempts: from about 50 ms, doubling, up to 1 s (jittered)
FIRST_PAUSE = 0.05
MAX_PAUSE = 1.0


def check_seconds(name: str, value: object) -> float:
    """A finite number of seconds in (0, MAX_SECONDS], or a ConfigurationError naming the option and the rule."""
    return seconds(
        "gcp-kms", name, value, maximum=MAX_SECONDS,
        hint=f"give a finite {name} above 0 and at most {MAX_SECONDS:g} s "
        f"(defaults: timeout={DEFAULT_TIMEOUT:g}, deadline={DEFAULT_DEADLINE:g})",
    )  # fmt: skip


def check_endpoint(endpoint: str) -> str:
    """``host:port`` of a local emulator; refuses non-loopback hosts, which would get plaintext requests.
    Errors do not quote the endpoint: a ``user:password@`` typed into it would be echoed back."""
    if "@" in endpoint:
        raise ConfigurationError(
            "gcp-kms: endpoint= carries userinfo (user:password@), which is refused",
            hint="give host:port only, e.g. endpoint=127.0.0.1:9010; credentials come from google-auth, never the URI",
        )
    host, sep, port = endpoint.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError("gcp-kms: endpoint= is not host:port", hint="e.g. endpoint=127.0.0.1:9010")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(
            "gcp-kms: endpoint= is not a loopback address",
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
    retry: sync_retry.Retry = field(init=False, repr=False)  # for the client's methods (all but AsymmetricSign)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timeout", check_seconds("timeout", self.timeout))
        object.__setattr__(self, "deadline", check_seconds("deadline", self.deadline))
        predicate = sync_retry.if_exception_type(*RETRYABLE)
        retry = sync_retry.Retry(predicate=predicate, initial=0.05, maximum=1.0, multiplier=2.0, timeout=self.deadline)
        object.__setattr__(self, "retry", retry)


class SignCall:
    """AsymmetricSign on the hot path: the client's own transport stub (same channel, credentials, serialisers
    and request headers as ``client.asymmetric_sign``) under the core's bounded retry (``signers.retry``).

    The generated client wraps each call in two layers of decorators that cost about as much client CPU as
    the whole Ethereum conversion; every other call goes through the client's methods. Unlike the library's
    retry, the total time is bounded by ``deadline`` itself: each attempt gets what is left of it.
    """

    def __init__(self, name: str, policy: CallPolicy) -> None:
        self.policy = policy
        self.retry = RetryPolicy(deadline=policy.deadline, initial=FIRST_PAUSE, maximum=MAX_PAUSE)
        # what the generated client adds: the routing header (Cloud KMS routes by key name) and the client info
        self.metadata = (
            gapic_v1.routing_header.to_grpc_metadata((("name", name),)),  # type: ignore[no-untyped-call]
            DEFAULT_CLIENT_INFO.to_grpc_metadata(),  # type: ignore[no-untyped-call]
        )

    def __call__(self, client: KeyManagementServiceClient, request: AsymmetricSignRequest) -> AsymmetricSignResponse:
        stub: Any = client.transport.asymmetric_sign

        def attempt(now: Attempt) -> AsymmetricSignResponse:
            try:
                response: AsymmetricSignResponse = stub(
                    request, timeout=now.timeout(self.policy.timeout), metadata=self.metadata
                )
                return response
            except grpc.RpcError as rpc_error:
                raise gexc.from_grpc_error(rpc_error) from None  # type: ignore[no-untyped-call]

        return self.retry.run(attempt, transient)

    async def acall(
        self, client: KeyManagementServiceAsyncClient, request: AsymmetricSignRequest
    ) -> AsymmetricSignResponse:
        stub: Any = client.transport.asymmetric_sign

        async def attempt(now: Attempt) -> AsymmetricSignResponse:
            try:
                response: AsymmetricSignResponse = await stub(
                    request, timeout=now.timeout(self.policy.timeout), metadata=self.metadata
                )
                return response
            except grpc.RpcError as rpc_error:
                raise gexc.from_grpc_error(rpc_error) from None  # type: ignore[no-untyped-call]

        return await self.retry.arun(attempt, transient)


def transient(error: Exception) -> float | None:
    """The retry classifier: UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are asked again."""
    return FIRST_PAUSE if isinstance(error, RETRYABLE) else None
