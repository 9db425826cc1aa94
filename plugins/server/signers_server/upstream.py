"""The configured Ethereum node: every ``eth_*`` read is proxied to it, and ``eth_sendTransaction`` asks it
for what a transaction lacks (nonce, gas, fees) and sends the signed bytes."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from .errors import INTERNAL_ERROR, RpcError


class Upstream:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self._client = httpx.AsyncClient(timeout=timeout)
        self._ids = itertools.count(1)

    async def call(self, method: str, params: Any) -> Any:
        body = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": method,
            "params": params if params is not None else [],
        }
        try:
            response = await self._client.post(self.url, json=body)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RpcError(INTERNAL_ERROR, f"the node did not answer {method}: {type(exc).__name__}") from None
        if not isinstance(answer, dict):
            raise RpcError(INTERNAL_ERROR, f"the node answered {method} with a non-object")
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            raw = error.get("code")
            code = raw if isinstance(raw, int) else INTERNAL_ERROR
            raise RpcError(code, str(error.get("message", "node error")), data=error.get("data"))
        return answer.get("result")

    async def close(self) -> None:
        await self._client.aclose()
