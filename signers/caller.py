"""Who a signature is made for, when a service signs on behalf of its callers.

A signing service (``signers serve``) sets the caller's name around each request with ``acting_for``; the
audit trail records it in its ``client`` column and policies may read it from ``current_client()``. A
context variable, so it follows the request into ``asyncio`` tasks and ``asyncio.to_thread`` calls, and
never leaks into another request. In-process callers set nothing and are recorded with no client.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_client: contextvars.ContextVar[str | None] = contextvars.ContextVar("signers_client", default=None)


def current_client() -> str | None:
    """The name of the caller the current request is served for, or None in-process."""
    return _client.get()


@contextlib.contextmanager
def acting_for(client: str) -> Iterator[None]:
    """Sign on behalf of ``client`` (a configured client name, never a token) inside this block."""
    token = _client.set(client)
    try:
        yield
    finally:
        _client.reset(token)
