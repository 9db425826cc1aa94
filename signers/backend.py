"""The one thing a custody backend does: sign a 32-byte digest with a key it holds, and tell its public key.

Everything Ethereum-specific (parsing, low-s, recovery id, self-check, hashing, policy, audit) lives in the
core, so a backend is small. See the README section "Writing a backend plugin".
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .errors import SignatureVerificationError, UnsupportedOperationError
from .keys import PublicKey

if TYPE_CHECKING:
    from .signer import SignRequest


class Backend(ABC):
    """A key in custody. Subclasses implement ``public_key`` and ``sign``; the rest has defaults."""

    #: how ``sign`` returns the signature: a DER ECDSA-Sig-Value or the raw 64-byte r||s
    signature_format: ClassVar[Literal["der", "rs"]]
    #: how many times the core asks again after a signature fails its self-check (a device bug, such as
    #: SoftHSM's intermittent invalid secp256k1 signatures); 0 for services that never do that
    invalid_signature_retries: ClassVar[int] = 0
    #: how many ``sign`` calls the backend serves at once in one process; None: no bound of its own (a
    #: network service). PKCS#11 serialises calls into a module (one lock), so a dispatcher such as the
    #: signing service gives such a key that many threads plus one, not a pool's worth waiting on the lock
    concurrent_calls: int | None = None

    @abstractmethod
    def public_key(self) -> PublicKey:
        """The key's public key. Called once per Signer; fetch it, check the key is usable, cache nothing."""

    @abstractmethod
    def sign(self, digest: bytes) -> bytes:
        """A raw ECDSA signature over exactly these 32 bytes (no hashing), as ``signature_format``."""

    async def asign(self, digest: bytes) -> bytes:
        """Async twin of ``sign``; backends with a native async client override it."""
        return await asyncio.to_thread(self.sign, digest)

    def sign_request(self, request: SignRequest) -> bytes:
        """Sign ``request.digest``. The core calls this, not ``sign``: a backend that forwards requests to a
        remote signer (whose own policies must see what is signed: the message, typed data, transaction or
        UserOperation) overrides it; every other backend keeps this default."""
        return self.sign(request.digest)

    async def asign_request(self, request: SignRequest) -> bytes:
        """Async twin of ``sign_request``."""
        return await self.asign(request.digest)

    def sign_requests(self, requests: Sequence[SignRequest]) -> Iterator[bytes]:
        """Raw signatures for several requests that all passed the policies, yielded in order as they come
        (``Signer.sign_digests`` converts each as it arrives). A backend that signs in parallel (a pool of
        processes) overrides it; the default signs them one by one."""
        for request in requests:
            yield self.sign_request(request)

    def on_invalid_signature(self, error: SignatureVerificationError) -> None:
        """Called when a signature failed the self-check, before any retry. A backend can find out why
        and raise a better error (an alias that now points to another key raises KeyChangedError)."""
        return None

    def create_like(self, label: str | None = None) -> str:
        """Create another key in the same custody as this one (same token, same KMS region and key policy, ...)
        and return its URI. Key rotation (``signers.aa.SessionManager.rotate``) uses it; ``label`` names the new
        key where the custody has names. Backends that cannot create keys keep this default."""
        raise UnsupportedOperationError(
            f"{self.describe()}: this backend cannot create keys",
            hint="create the new key with the custody's own tools and pass its signer (new_key=...)",
        )

    def custody(self) -> Mapping[str, Any]:
        """Facts for a security review: where the key lives and what it allows, as a ``CustodyReport``
        (``signers.custody``; its warnings say what a reviewer should know). No secrets. This default says
        only which backend it is."""
        from .custody import CustodyReport

        return CustodyReport.of({"backend": self.describe()})

    @abstractmethod
    def describe(self) -> str:
        """A safe identifier for logs, reprs and the audit trail (a URI without secrets)."""

    def close(self) -> None:
        """Release sessions and connections."""
        return None

    async def aclose(self) -> None:
        """Async twin of ``close``, for backends whose async channels must be closed in their own loop."""
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
