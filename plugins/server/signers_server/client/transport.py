"""HTTP to a ``signers serve`` service: JSON-RPC calls and the public-key listing, sync and async.

Every failure becomes a ``signers`` error that says what to do; none carries the token (it lives only in the
httpx clients' default headers, which neither their repr nor an httpx exception shows). Retries are bounded and
only where the service cannot have acted on the request: the connection was never made, or the service
answered 503 (starting, draining). A timeout after the request was sent is reported,
never repeated: the service may have signed, and the caller decides.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from signers.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    PolicyViolationError,
    SignerError,
    ThrottledError,
    UnsupportedOperationError,
)
from signers.secrets import Secret

RETRY_STATUSES = frozenset({503})  # a 502/504 from a proxy may come after the service signed
BACKOFF = (0.05, 0.25)  # seconds before the 2nd and 3rd attempt
MESSAGE_LIMIT = 300  # characters of a service's error message kept in ours


@dataclass(frozen=True)
class Endpoint:
    """Where the service is and how to reach it. No secret here: the token is passed separately."""

    url: str  # http(s)://host:port, no path
    timeout: float = 10.0
    ca_file: str | None = None
    cert_file: str | None = None  # client certificate for mutual TLS
    key_file: str | None = None

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.url.startswith("https:"):
            return True
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"signers+https: cannot load the client certificate {self.cert_file} ({type(exc).__name__})",
                    hint="cert-file= and key-file= must name a PEM certificate and its private key",
                ) from None
        return context


class ServiceError(SignerError):
    """The service answered with a JSON-RPC error this client has no better class for."""

    hint = "see the service's access log for this request; nothing was signed"


def _shorten(text: object) -> str:
    message = str(text)
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "..."


def rpc_error(method: str, code: int, message: str, where: str, data: Any = None) -> SignerError:
    """The signers error for a JSON-RPC error object the service answered (``data.reason``: the service's
    error class, when it has one)."""
    said = _shorten(message)
    reason = str(data.get("reason", "")) if isinstance(data, dict) else ""
    if code == -32001:
        return AuthenticationError(
            f"{method}: the service at {where} refused the token: {said}",
            hint="check that token-source names this client's token and the client exists in the service's config",
        )
    if code == -32603 and ("Unavailable" in reason or "Throttled" in reason):
        return BackendUnavailableError(f"{method}: the key's backend behind {where} is unavailable: {said}")
    if code == 4001:
        return PolicyViolationError(
            f"{method}: the service at {where} refused: {said}",
            hint="a policy of the service (the client's rights, the key's scope) refused it; nothing was signed",
        )
    if code == -32000:
        return AuthenticationError(
            f"{method}: the service at {where} does not let this client use the key: {said}",
            hint="give the client the key in the service's configuration, or use the token of a client that has it",
        )
    if code == -32602:
        return ConfigurationError(
            f"{method}: the service at {where} refused the request's parameters: {said}",
            hint="the service refuses a field it cannot honour rather than drop it; nothing was signed",
        )
    if code in (-32601, -32004):
        return UnsupportedOperationError(
            f"{method}: the service at {where} does not offer this method: {said}",
            hint="upgrade the service, or enable the method for this client",
        )
    if code == -32005:
        return ThrottledError(f"{method}: the service at {where} rate-limited this client: {said}")
    return ServiceError(f"{method}: the service at {where} failed (JSON-RPC error {code}): {said}")


def status_error(what: str, status: int, where: str) -> SignerError | None:
    """The signers error for an HTTP status without a JSON-RPC answer, or None for a success."""
    if status in (401, 403):
        return AuthenticationError(
            f"{what}: the service at {where} refused the token (HTTP {status})",
            hint="check that token-source names this client's token and the client exists in the service's config",
        )
    if status == 429:
        return ThrottledError(f"{what}: the service at {where} rate-limited this client (HTTP 429)")
    if status == 413:
        return ConfigurationError(f"{what}: the request is larger than the service at {where} accepts (HTTP 413)")
    if status >= 400:
        return BackendUnavailableError(f"{what}: the service at {where} answered HTTP {status}")
    return None


def _tls_failure(error: BaseException) -> ssl.SSLError | None:
    """The TLS error under an httpx error (a certificate the client does not trust, a refused client cert)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _unreachable(what: str, where: str, error: httpx.HTTPError) -> SignerError:
    tls = _tls_failure(error)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return AuthenticationError(
            f"{what}: the TLS certificate of the service at {where} is not trusted ({tls.verify_message})",
            hint="give the CA that issued it as ca-file=PATH, and check the host name in the URI is in the certificate",
        )
    if tls is not None:
        return AuthenticationError(
            f"{what}: the TLS handshake with the service at {where} failed ({tls.reason or type(tls).__name__})",
            hint="if the service requires a client certificate, give cert-file= and key-file=",
        )
    if isinstance(error, httpx.TimeoutException) and not isinstance(error, httpx.ConnectTimeout):
        return BackendUnavailableError(
            f"{what}: the service at {where} did not answer in time",
            hint="the request may have been signed and audited by the service; retry only if a second signature "
            "is harmless, or raise timeout=",
        )
    return BackendUnavailableError(f"{what}: cannot reach the service at {where} ({type(error).__name__})")


def _retryable(error: httpx.HTTPError) -> bool:
    """Only failures before the request reached the service (a TLS failure would fail again)."""
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)) and _tls_failure(error) is None


class Transport:
    """One service URL, one token (or a client certificate). Thread-safe (httpx.Client is); async calls use one
    client per event loop."""

    def __init__(self, endpoint: Endpoint, token: Secret | None) -> None:
        self.endpoint = endpoint
        self.where = endpoint.url
        self._ids = itertools.count(1)
        self._verify = endpoint.ssl_context()
        # no token: a client known by its certificate alone (mutual TLS)
        self._headers = {"Authorization": f"Bearer {token.reveal()}"} if token is not None else {}
        self._timeout = httpx.Timeout(endpoint.timeout, connect=min(5.0, endpoint.timeout))
        self._client = httpx.Client(timeout=self._timeout, headers=self._headers, verify=self._verify)
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"Transport({self.where!r})"

    def _aclient(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers, verify=self._verify)
            self._aclients[loop] = client
        return client

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()

    # -- JSON-RPC --------------------------------------------------------------------------------------------
    def _payload(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}

    def _answer(self, method: str, body: Any) -> Any:
        """The result of one JSON-RPC answer object, or the error it carries raised."""
        fault = body.get("error") if isinstance(body, dict) else None
        if isinstance(fault, dict):
            code = fault.get("code")
            number = code if isinstance(code, int) else 0
            raise rpc_error(method, number, fault.get("message", ""), self.where, fault.get("data"))
        if not isinstance(body, dict) or "result" not in body:
            raise BackendUnavailableError(f"{method}: the service at {self.where} answered no JSON-RPC result")
        return body["result"]

    def _result(self, method: str, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):  # its JSON-RPC error says more
            error = status_error(method, response.status_code, self.where)
            if error is not None:
                raise error
        return self._answer(method, body)

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        payload = self._payload(method, params)
        return self._result(method, self._send(method, lambda: self._client.post(self.where + "/", json=payload)))

    def call_batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one POST (a JSON-RPC batch): each one's result, or the SignerError it got, in order.
        A refusal of the whole batch (credential, size, rate) raises."""
        payloads = [self._payload(method, params) for method, params in calls]
        what = f"a batch of {len(calls)} calls"
        response = self._send(what, lambda: self._client.post(self.where + "/", json=payloads))
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, list):
            self._result(what, response)  # raises what the service said about the whole batch
            raise BackendUnavailableError(f"{what}: the service at {self.where} answered no JSON-RPC batch")
        by_id = {answer.get("id"): answer for answer in body if isinstance(answer, dict)}
        out: list[Any] = []
        for (method, _), payload in zip(calls, payloads, strict=True):
            try:
                out.append(self._answer(method, by_id.get(payload["id"])))
            except SignerError as error:
                out.append(error)
        return out

    async def acall(self, method: str, params: Sequence[Any] = ()) -> Any:
        payload = self._payload(method, params)
        client = self._aclient()
        response = await self._asend(method, lambda: client.post(self.where + "/", json=payload))
        return self._result(method, response)

    # -- REST --------------------------------------------------------------------------------------------------
    def get_json(self, path: str) -> Any:
        response = self._send(f"GET {path}", lambda: self._client.get(self.where + path))
        error = status_error(f"GET {path}", response.status_code, self.where)
        if error is not None:
            raise error
        try:
            return response.json()
        except ValueError:
            raise BackendUnavailableError(f"GET {path}: the service at {self.where} answered no JSON") from None

    # -- the bounded retry loop, sync and async ----------------------------------------------------------------
    def _send(self, what: str, send: Any) -> httpx.Response:
        for attempt in range(len(BACKOFF) + 1):
            try:
                response: httpx.Response = send()
            except httpx.HTTPError as error:
                if attempt < len(BACKOFF) and _retryable(error):
                    time.sleep(BACKOFF[attempt])
                    continue
                raise _unreachable(what, self.where, error) from None
            if attempt < len(BACKOFF) and response.status_code in RETRY_STATUSES:
                time.sleep(BACKOFF[attempt])
                continue
            return response
        raise AssertionError("unreachable")

    async def _asend(self, what: str, send: Any) -> httpx.Response:
        for attempt in range(len(BACKOFF) + 1):
            try:
                response: httpx.Response = await send()
            except httpx.HTTPError as error:
                if attempt < len(BACKOFF) and _retryable(error):
                    await asyncio.sleep(BACKOFF[attempt])
                    continue
                raise _unreachable(what, self.where, error) from None
            if attempt < len(BACKOFF) and response.status_code in RETRY_STATUSES:
                await asyncio.sleep(BACKOFF[attempt])
                continue
            return response
        raise AssertionError("unreachable")
