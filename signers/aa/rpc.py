"""A small JSON-RPC 2.0 client over httpx, shared by the node, bundler and paymaster clients.

Transport failures (refused connection, timeout, HTTP error without a JSON-RPC body, non-JSON) become
``RpcUnavailableError``; a JSON-RPC error object becomes the error the caller's ``error_factory`` makes from
(code, message, data). Bundlers often answer errors with HTTP 4xx/5xx *and* a JSON-RPC body: the body wins.
URLs are shown without query string or credentials (API keys often live there).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .errors import ContractCallError, RpcError, RpcUnavailableError
from .hexutil import BytesLike, parse_quantity, to_address, to_bytes, to_hex

ErrorFactory = Callable[..., RpcError]


def redact_url(url: str) -> str:
    """scheme://host[:port], with "/…" for a path: providers put API keys in user info, query and path
    (``/v2/<key>``), and a URL is shown in reprs and in every error."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, "/…" if parts.path.strip("/") else "", "", ""))


def _default_error(message: str, *, code: int, method: str, data: Any = None, url: str = "") -> RpcError:
    return RpcError(message, code=code, method=method, data=data, url=url)


class JsonRpcClient:
    """POSTs JSON-RPC requests to one URL. Thread-safe (httpx.Client is); close() when done."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        error_factory: ErrorFactory = _default_error,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url
        self.display_url = redact_url(url)
        self._error_factory = error_factory
        self._ids = itertools.count(1)
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout, headers=headers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_url!r})"

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> JsonRpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.TimeoutException:
            raise RpcUnavailableError(f"{method}: {self.display_url} did not answer in time") from None
        except httpx.HTTPError as error:
            raise RpcUnavailableError(f"{method}: cannot reach {self.display_url} ({type(error).__name__})") from None
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RpcUnavailableError(
                f"{method}: {self.display_url} answered HTTP {response.status_code} with a non-JSON body"
            ) from None
        if not isinstance(body, dict):
            raise RpcUnavailableError(
                f"{method}: {self.display_url} answered a JSON {type(body).__name__}, not a JSON-RPC object"
            )
        fault = body.get("error")
        if fault is not None:
            if not isinstance(fault, dict):
                raise RpcUnavailableError(
                    f"{method}: {self.display_url} answered a malformed JSON-RPC error: {fault!r}"
                )
            code = fault.get("code")
            raise self._error_factory(
                str(fault.get("message", "")),
                code=int(code) if isinstance(code, int) else 0,
                method=method,
                data=fault.get("data"),
                url=self.display_url,
            )
        if response.status_code >= 400:
            raise RpcUnavailableError(f"{method}: {self.display_url} answered HTTP {response.status_code}")
        if "result" not in body:
            raise RpcUnavailableError(f"{method}: {self.display_url} answered neither result nor error")
        return body["result"]


class NodeClient(JsonRpcClient):
    """The few reads of an Ethereum node the AA layer needs."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("error_factory", ContractCallError)
        super().__init__(url, **kwargs)

    def chain_id(self) -> int:
        return parse_quantity(self.request("eth_chainId"), "eth_chainId")

    def call(self, to: str, data: BytesLike, block: str = "latest") -> bytes:
        result = self.request("eth_call", [{"to": to_address(to), "data": to_hex(to_bytes(data))}, block])
        return to_bytes(result, "eth_call result")

    def get_code(self, address: str, block: str = "latest") -> bytes:
        return to_bytes(self.request("eth_getCode", [to_address(address), block]), "eth_getCode result")

    def get_balance(self, address: str, block: str = "latest") -> int:
        return parse_quantity(self.request("eth_getBalance", [to_address(address), block]), "eth_getBalance")

    def gas_price(self) -> int:
        return parse_quantity(self.request("eth_gasPrice"), "eth_gasPrice")

    def max_priority_fee(self) -> int:
        return parse_quantity(self.request("eth_maxPriorityFeePerGas"), "eth_maxPriorityFeePerGas")

    def latest_base_fee(self) -> int:
        block = self.request("eth_getBlockByNumber", ["latest", False])
        return parse_quantity(block.get("baseFeePerGas") or "0x0", "baseFeePerGas")
