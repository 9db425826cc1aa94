"""A secp256k1 key version in Google Cloud KMS as a signers backend (sync and native async)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from google.cloud import kms_v1 as kms
from google.protobuf import wrappers_pb2

from signers.backend import Backend
from signers.custody import CustodyReport
from signers.errors import IntegrityError, KeyDisabledError, SignerError, WrongCurveError
from signers.keys import PublicKey
from signers.retry import Attempt, RetriesExhausted, RetryPolicy

from . import connection
from .connection import CallPolicy, SignCall
from .errors import translate
from .integrity import crc32c, public_key_problem, signature_problem

T = TypeVar("T")
Algorithm = kms.CryptoKeyVersion.CryptoKeyVersionAlgorithm
State = kms.CryptoKeyVersion.CryptoKeyVersionState

_SIGN_REQUEST_PB = kms.AsymmetricSignRequest.pb()
_DIGEST_PB = kms.Digest.pb()
_INT64 = wrappers_pb2.Int64Value

#: how many times a response failing an integrity check is asked for again before IntegrityError
DEFAULT_INTEGRITY_RETRIES = 2
#: the first pause's ceiling before asking again for a corrupted answer (seconds)
INTEGRITY_PAUSE = 0.01


class _Corrupted(Exception):
    """An answer that failed an integrity check (the message says which); asked for again."""


def _raise_if_corrupted(problem: str | None) -> None:
    if problem:
        raise _Corrupted(problem)


def _corrupted(error: Exception) -> float | None:
    """The integrity retry's classifier: only corrupted answers are asked for again here (transient service
    errors were already retried by the call itself)."""
    return INTEGRITY_PAUSE if isinstance(error, _Corrupted) else None


class GcpKmsBackend(Backend):
    """One CryptoKeyVersion. ``endpoint`` (host:port) is a local emulator; without it, Google with ADC."""

    signature_format = "der"

    def __init__(
        self,
        name: str,
        *,
        endpoint: str | None = None,
        credentials: Any = None,
        policy: CallPolicy | None = None,
        integrity_retries: int = DEFAULT_INTEGRITY_RETRIES,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.policy = policy or CallPolicy()
        self.integrity_retries = integrity_retries
        self._integrity = RetryPolicy(attempts=integrity_retries + 1, initial=INTEGRITY_PAUSE)
        self._credentials = credentials
        self._sign_call = SignCall(name, self.policy)
        try:
            self._client = connection.sync_client(endpoint, credentials)
        except Exception as exc:  # ADC missing surfaces here with the default transport
            raise translate(exc, self.describe()) from None
        self._async: tuple[asyncio.AbstractEventLoop, kms.KeyManagementServiceAsyncClient] | None = None

    # -- calls ------------------------------------------------------------------------------------------
    def _call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return method(request=request, retry=self.policy.retry, timeout=self.policy.timeout)
        except Exception as exc:
            raise translate(exc, self.describe()) from None

    def _async_client(self) -> kms.KeyManagementServiceAsyncClient:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            # a grpc.aio channel is bound to the loop that made it: one client per loop
            try:
                self._async = (loop, connection.async_client(self.endpoint, self._credentials))
            except Exception as exc:
                raise translate(exc, self.describe()) from None
        return self._async[1]

    def _integrity_error(self, problem: str) -> IntegrityError:
        return IntegrityError(
            f"{self.describe()}: {problem}; still so after {self.integrity_retries + 1} attempts",
            hint="the network path to Cloud KMS corrupts data or answers for another key; nothing was signed here",
        )

    # -- the Backend interface --------------------------------------------------------------------------
    def public_key(self) -> PublicKey:
        version = self._call(self._client.get_crypto_key_version, kms.GetCryptoKeyVersionRequest(name=self.name))
        self._check_version(version)

        def attempt(_: Attempt) -> PublicKey:
            response = self._call(self._client.get_public_key, kms.GetPublicKeyRequest(name=self.name))
            _raise_if_corrupted(public_key_problem(response, self.name))
            return PublicKey.from_pem(response.pem)

        try:
            return self._integrity.run(attempt, _corrupted)
        except Exception as exc:
            raise self._failure(exc) from None

    def _check_version(self, version: kms.CryptoKeyVersion) -> None:
        if version.algorithm != Algorithm.EC_SIGN_SECP256K1_SHA256:
            raise WrongCurveError(
                f"{self.describe()}: the key version's algorithm is {Algorithm(version.algorithm).name}, "
                "not EC_SIGN_SECP256K1_SHA256"
            )
        if version.state != State.ENABLED:
            raise KeyDisabledError(f"{self.describe()}: the key version is {State(version.state).name}, not ENABLED")

    def _sign_request(self, digest: bytes) -> kms.AsymmetricSignRequest:
        # built on the raw protobuf and wrapped: a third of the cost of proto-plus's keyword constructor
        message = _SIGN_REQUEST_PB(
            name=self.name, digest=_DIGEST_PB(sha256=digest), digest_crc32c=_INT64(value=crc32c(digest))
        )
        request: kms.AsymmetricSignRequest = kms.AsymmetricSignRequest.wrap(message)
        return request

    def _signature(self, response: kms.AsymmetricSignResponse) -> bytes:
        _raise_if_corrupted(signature_problem(response, self.name))
        return bytes(kms.AsymmetricSignResponse.pb(response).signature)

    def sign(self, digest: bytes) -> bytes:
        request = self._sign_request(digest)
        try:
            return self._integrity.run(lambda _: self._signature(self._sign_call(self._client, request)), _corrupted)
        except Exception as exc:
            raise self._failure(exc) from None

    async def asign(self, digest: bytes) -> bytes:
        client = self._async_client()
        request = self._sign_request(digest)

        async def attempt(_: Attempt) -> bytes:
            return self._signature(await self._sign_call.acall(client, request))

        try:
            return await self._integrity.arun(attempt, _corrupted)
        except Exception as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> SignerError:
        """The error once the integrity retries are over: IntegrityError for answers that stayed corrupted."""
        if isinstance(exc, RetriesExhausted) and isinstance(exc.error, _Corrupted):
            return self._integrity_error(str(exc.error))
        return translate(exc, self.describe())

    def describe(self) -> str:
        return f"gcp-kms://{self.name}" + (f"?endpoint={self.endpoint}" if self.endpoint else "")

    def create_like(self, label: str | None = None) -> str:
        """A new secp256k1 signing key in the same key ring, with this key's algorithm and protection level, waited
        for until generated; ``label`` is its key id. Returns the URI of its first version (same endpoint)."""
        from .lifecycle import create_signing_key
        from .uri import version_uri  # uri imports this module

        key_name = self.name.rsplit("/cryptoKeyVersions/", 1)[0]
        ring, _, key_id = key_name.rpartition("/cryptoKeys/")
        template = self._call(self._client.get_crypto_key, {"name": key_name}).version_template
        version = create_signing_key(
            self._client, ring, label or f"{key_id}-{secrets.token_hex(4)}",
            algorithm=template.algorithm.name, protection_level=template.protection_level.name, policy=self.policy,
        )  # fmt: skip
        return version_uri(version.name, self.endpoint)

    def custody(self) -> CustodyReport:
        from .custody import report

        key_name = self.name.rsplit("/cryptoKeyVersions/", 1)[0]
        key = self._call(self._client.get_crypto_key, kms.GetCryptoKeyRequest(name=key_name))
        version = self._call(self._client.get_crypto_key_version, kms.GetCryptoKeyVersionRequest(name=self.name))
        usable = version.state == State.ENABLED and version.algorithm == Algorithm.EC_SIGN_SECP256K1_SHA256
        return report(self, key, version, self.public_key().address if usable else None)

    def close(self) -> None:
        self._client.transport.close()  # type: ignore[no-untyped-call]
        # the async channel closes with its loop; closing it needs that loop running (see aclose)
        self._async = None

    async def aclose(self) -> None:
        """Close the async channel of the running loop (optional: it also goes with its loop)."""
        if self._async is not None and self._async[0] is asyncio.get_running_loop():
            await self._async[1].transport.close()  # type: ignore[no-untyped-call]
        self._async = None
