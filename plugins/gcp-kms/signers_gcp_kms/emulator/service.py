"""google.cloud.kms.v1.KeyManagementService, the part a signing key's lifecycle needs, over real gRPC.

google-cloud-kms ships no servicer base class, but its proto-plus request and response types serialise and
deserialise exactly as the real service's protobufs, so they serve as the gRPC (de)serialisers of a
generic handler. Failure cases answer with the status codes Cloud KMS uses: NOT_FOUND, ALREADY_EXISTS,
FAILED_PRECONDITION (a version that is not enabled), INVALID_ARGUMENT (malformed names, wrong digest size or
field, a digest CRC32C that does not match).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

import google_crc32c
import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from google.cloud import kms_v1 as kms

from .faults import Faults
from .store import (
    CRYPTO_KEY,
    DEFAULT_DESTROY_DELAY,
    EC_ALGORITHMS,
    KEY_RING,
    LOCATION,
    RESOURCE_ID,
    VERSION,
    Algorithm,
    State,
    Store,
    Version,
    now,
)

SERVICE = "google.cloud.kms.v1.KeyManagementService"
_HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}
T = TypeVar("T")


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: ServicerContext.abort raises")


def _crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


def _page(items: Sequence[T], page_size: int, page_token: str, context: grpc.ServicerContext) -> tuple[list[T], str]:
    try:
        start = int(page_token or "0")
    except ValueError:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"invalid page_token {page_token!r}")
    end = len(items) if page_size <= 0 else start + page_size
    return list(items[start:end]), (str(end) if end < len(items) else "")


def _resource_of(request: Any) -> str:
    for field in ("name", "parent"):
        value = getattr(request, field, None)
        if isinstance(value, str) and value:
            return value
    version = getattr(request, "crypto_key_version", None)
    return str(getattr(version, "name", ""))


class KeyManagementService:
    def __init__(self, store: Store, faults: Faults) -> None:
        self.store = store
        self.faults = faults

    # -- lookups that answer Cloud KMS's errors ---------------------------------------------------------
    def _check_name(self, pattern: Any, name: str, what: str, context: grpc.ServicerContext) -> None:
        if not pattern.match(name):
            _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"Resource name [{name}] does not represent a valid {what}."
            )

    def _key_ring(self, name: str, context: grpc.ServicerContext) -> kms.KeyRing:
        self._check_name(KEY_RING, name, "KeyRing", context)
        ring = self.store.key_rings.get(name)
        if ring is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"KeyRing {name} not found.")
        return ring

    def _crypto_key(self, name: str, context: grpc.ServicerContext) -> kms.CryptoKey:
        self._check_name(CRYPTO_KEY, name, "CryptoKey", context)
        key = self.store.crypto_keys.get(name)
        if key is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"CryptoKey {name} not found.")
        return key

    def _version(self, name: str, context: grpc.ServicerContext) -> Version:
        self._check_name(VERSION, name, "CryptoKeyVersion", context)
        if name not in self.store.versions:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"CryptoKeyVersion {name} not found.")
        return self.store.version(name)

    def _enabled(self, name: str, context: grpc.ServicerContext) -> Version:
        version = self._version(name, context)
        if version.resource.state != State.ENABLED or version.private_key is None:
            state = State(version.resource.state).name
            _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"{name} is not enabled, current state is: {state}.")
        return version

    def _other_name(self, name: str) -> str:
        """Another version's name, for the wrong-name fault."""
        key, _, number = name.rpartition("/")
        return f"{key}/{int(number) + 1}"

    # -- key rings --------------------------------------------------------------------------------------
    def create_key_ring(self, request: kms.CreateKeyRingRequest, context: grpc.ServicerContext) -> kms.KeyRing:
        self._check_name(LOCATION, request.parent, "Location", context)
        if not RESOURCE_ID.match(request.key_ring_id):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"invalid key_ring_id {request.key_ring_id!r}")
        name = f"{request.parent}/keyRings/{request.key_ring_id}"
        with self.store.lock:
            if name in self.store.key_rings:
                _abort(context, grpc.StatusCode.ALREADY_EXISTS, f"KeyRing {name} already exists.")
            ring = kms.KeyRing(name=name, create_time=now())
            self.store.key_rings[name] = ring
            self.store.save()
            return ring

    def get_key_ring(self, request: kms.GetKeyRingRequest, context: grpc.ServicerContext) -> kms.KeyRing:
        with self.store.lock:
            return self._key_ring(request.name, context)

    def list_key_rings(
        self, request: kms.ListKeyRingsRequest, context: grpc.ServicerContext
    ) -> kms.ListKeyRingsResponse:
        self._check_name(LOCATION, request.parent, "Location", context)
        with self.store.lock:
            rings = [r for n, r in sorted(self.store.key_rings.items()) if n.startswith(request.parent + "/keyRings/")]
        page, token = _page(rings, request.page_size, request.page_token, context)
        return kms.ListKeyRingsResponse(key_rings=page, next_page_token=token, total_size=len(rings))

    # -- crypto keys ------------------------------------------------------------------------------------
    def create_crypto_key(self, request: kms.CreateCryptoKeyRequest, context: grpc.ServicerContext) -> kms.CryptoKey:
        if not RESOURCE_ID.match(request.crypto_key_id):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"invalid crypto_key_id {request.crypto_key_id!r}")
        key = kms.CryptoKey(request.crypto_key)
        if key.purpose != kms.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the emulator holds ASYMMETRIC_SIGN keys only")
        template = key.version_template
        if template.algorithm not in EC_ALGORITHMS:
            supported = ", ".join(Algorithm(a).name for a in EC_ALGORITHMS)
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"algorithm {Algorithm(template.algorithm).name} is not supported by the emulator ({supported})",
            )
        if template.protection_level == kms.ProtectionLevel.PROTECTION_LEVEL_UNSPECIFIED:
            template.protection_level = kms.ProtectionLevel.SOFTWARE  # type: ignore[assignment]  # proto-plus enum members are typed as int
        if (
            template.algorithm == Algorithm.EC_SIGN_SECP256K1_SHA256
            and template.protection_level != kms.ProtectionLevel.HSM
        ):
            # as in Cloud KMS: secp256k1 exists only at the HSM protection level
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "EC_SIGN_SECP256K1_SHA256 requires protection_level HSM.")
        with self.store.lock:
            self._key_ring(request.parent, context)
            key.name = f"{request.parent}/cryptoKeys/{request.crypto_key_id}"
            if key.name in self.store.crypto_keys:
                _abort(context, grpc.StatusCode.ALREADY_EXISTS, f"CryptoKey {key.name} already exists.")
            key.create_time = now()
            if "destroy_scheduled_duration" not in key:
                key.destroy_scheduled_duration = DEFAULT_DESTROY_DELAY
            self.store.crypto_keys[key.name] = key
            if not request.skip_initial_version_creation:
                self.store.new_version(key)
            self.store.save()
            return key

    def get_crypto_key(self, request: kms.GetCryptoKeyRequest, context: grpc.ServicerContext) -> kms.CryptoKey:
        with self.store.lock:
            return self._crypto_key(request.name, context)

    def list_crypto_keys(
        self, request: kms.ListCryptoKeysRequest, context: grpc.ServicerContext
    ) -> kms.ListCryptoKeysResponse:
        with self.store.lock:
            self._key_ring(request.parent, context)
            prefix = request.parent + "/cryptoKeys/"
            keys = [k for n, k in sorted(self.store.crypto_keys.items()) if n.startswith(prefix)]
        page, token = _page(keys, request.page_size, request.page_token, context)
        return kms.ListCryptoKeysResponse(crypto_keys=page, next_page_token=token, total_size=len(keys))

    # -- versions ---------------------------------------------------------------------------------------
    def create_crypto_key_version(
        self, request: kms.CreateCryptoKeyVersionRequest, context: grpc.ServicerContext
    ) -> kms.CryptoKeyVersion:
        with self.store.lock:
            version = self.store.new_version(self._crypto_key(request.parent, context))
            self.store.save()
            return version.resource

    def get_crypto_key_version(
        self, request: kms.GetCryptoKeyVersionRequest, context: grpc.ServicerContext
    ) -> kms.CryptoKeyVersion:
        with self.store.lock:
            return self._version(request.name, context).resource

    def list_crypto_key_versions(
        self, request: kms.ListCryptoKeyVersionsRequest, context: grpc.ServicerContext
    ) -> kms.ListCryptoKeyVersionsResponse:
        with self.store.lock:
            self._crypto_key(request.parent, context)
            versions = [self.store.version(n).resource for n in self.store.versions_of(request.parent)]
        page, token = _page(versions, request.page_size, request.page_token, context)
        return kms.ListCryptoKeyVersionsResponse(
            crypto_key_versions=page, next_page_token=token, total_size=len(versions)
        )

    def update_crypto_key_version(
        self, request: kms.UpdateCryptoKeyVersionRequest, context: grpc.ServicerContext
    ) -> kms.CryptoKeyVersion:
        if list(request.update_mask.paths) != ["state"]:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the emulator updates only the field 'state'")
        wanted = request.crypto_key_version.state
        if wanted not in (State.ENABLED, State.DISABLED):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "state can only be updated to ENABLED or DISABLED.")
        with self.store.lock:
            version = self._version(request.crypto_key_version.name, context)
            current = version.resource.state
            if current not in (State.ENABLED, State.DISABLED):
                _abort(
                    context,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"{version.resource.name} is in state {State(current).name} and cannot be updated.",
                )
            version.resource.state = wanted
            self.store.save()
            return version.resource

    def destroy_crypto_key_version(
        self, request: kms.DestroyCryptoKeyVersionRequest, context: grpc.ServicerContext
    ) -> kms.CryptoKeyVersion:
        with self.store.lock:
            version = self._version(request.name, context)
            if version.resource.state not in (State.ENABLED, State.DISABLED):
                state = State(version.resource.state).name
                _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"{request.name} is in state {state}.")
            key = self.store.crypto_keys[request.name.rsplit("/cryptoKeyVersions/", 1)[0]]
            delay = key.destroy_scheduled_duration or timedelta(0)
            version.resource.state = State.DESTROY_SCHEDULED  # type: ignore[assignment]  # proto-plus enum members are typed as int
            version.resource.destroy_time = now() + delay
            self.store.save()
            return self.store.version(request.name).resource  # already DESTROYED when the delay is zero

    def restore_crypto_key_version(
        self, request: kms.RestoreCryptoKeyVersionRequest, context: grpc.ServicerContext
    ) -> kms.CryptoKeyVersion:
        with self.store.lock:
            version = self._version(request.name, context)
            if version.resource.state != State.DESTROY_SCHEDULED:
                state = State(version.resource.state).name
                _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"{request.name} is in state {state}.")
            version.resource.state = State.DISABLED  # type: ignore[assignment]  # proto-plus enum members are typed as int
            version.resource.destroy_time = None
            self.store.save()
            return version.resource

    # -- the cryptographic calls ------------------------------------------------------------------------
    def get_public_key(self, request: kms.GetPublicKeyRequest, context: grpc.ServicerContext) -> kms.PublicKey:
        with self.store.lock:
            version = self._enabled(request.name, context)
            resource, private_key = version.resource, version.private_key
        assert private_key is not None
        pem = (
            private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        crc = _crc32c(pem.encode())
        if self.faults.take("corrupt_pem_crc", request.name):
            crc ^= 1
        name = self._other_name(request.name) if self.faults.take("wrong_name", request.name) else request.name
        return kms.PublicKey(
            pem=pem,
            algorithm=resource.algorithm,
            pem_crc32c=crc,
            name=name,
            protection_level=resource.protection_level,
        )

    def asymmetric_sign(
        self, request: kms.AsymmetricSignRequest, context: grpc.ServicerContext
    ) -> kms.AsymmetricSignResponse:
        with self.store.lock:
            version = self._enabled(request.name, context)
            resource, private_key = version.resource, version.private_key
        assert private_key is not None
        _, field, size = EC_ALGORITHMS[resource.algorithm]
        given = kms.Digest.pb(request.digest).WhichOneof("digest")
        if request.data:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{Algorithm(resource.algorithm).name} signs a digest, not data.",
            )
        if given != field:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{Algorithm(resource.algorithm).name} needs digest.{field}, got {given}.",
            )
        digest = getattr(request.digest, field)
        if len(digest) != size:
            _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"digest.{field} must be {size} bytes, got {len(digest)}."
            )
        verified = "digest_crc32c" in request
        if verified and request.digest_crc32c != _crc32c(digest):
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "The checksum in field digest_crc32c did not match the data in field digest.",
            )
        # OpenSSL's ECDSA draws a random nonce, so about half the signatures are high-s, as in Cloud KMS
        signature = private_key.sign(digest, ec.ECDSA(Prehashed(_HASHES[field])))
        crc = _crc32c(signature)
        if self.faults.take("corrupt_signature_crc", request.name):
            crc ^= 1
        if self.faults.take("unverified_digest_crc", request.name):
            verified = False
        name = self._other_name(request.name) if self.faults.take("wrong_name", request.name) else request.name
        return kms.AsymmetricSignResponse(
            signature=signature,
            signature_crc32c=crc,
            verified_digest_crc32c=verified,
            name=name,
            protection_level=resource.protection_level,
        )

    # -- the gRPC plumbing ------------------------------------------------------------------------------
    def _methods(self) -> dict[str, tuple[Callable[..., Any], Any, Any]]:
        return {
            "CreateKeyRing": (self.create_key_ring, kms.CreateKeyRingRequest, kms.KeyRing),
            "GetKeyRing": (self.get_key_ring, kms.GetKeyRingRequest, kms.KeyRing),
            "ListKeyRings": (self.list_key_rings, kms.ListKeyRingsRequest, kms.ListKeyRingsResponse),
            "CreateCryptoKey": (self.create_crypto_key, kms.CreateCryptoKeyRequest, kms.CryptoKey),
            "GetCryptoKey": (self.get_crypto_key, kms.GetCryptoKeyRequest, kms.CryptoKey),
            "ListCryptoKeys": (self.list_crypto_keys, kms.ListCryptoKeysRequest, kms.ListCryptoKeysResponse),
            "CreateCryptoKeyVersion": (
                self.create_crypto_key_version,
                kms.CreateCryptoKeyVersionRequest,
                kms.CryptoKeyVersion,
            ),
            "GetCryptoKeyVersion": (self.get_crypto_key_version, kms.GetCryptoKeyVersionRequest, kms.CryptoKeyVersion),
            "ListCryptoKeyVersions": (
                self.list_crypto_key_versions,
                kms.ListCryptoKeyVersionsRequest,
                kms.ListCryptoKeyVersionsResponse,
            ),
            "UpdateCryptoKeyVersion": (
                self.update_crypto_key_version,
                kms.UpdateCryptoKeyVersionRequest,
                kms.CryptoKeyVersion,
            ),
            "DestroyCryptoKeyVersion": (
                self.destroy_crypto_key_version,
                kms.DestroyCryptoKeyVersionRequest,
                kms.CryptoKeyVersion,
            ),
            "RestoreCryptoKeyVersion": (
                self.restore_crypto_key_version,
                kms.RestoreCryptoKeyVersionRequest,
                kms.CryptoKeyVersion,
            ),
            "GetPublicKey": (self.get_public_key, kms.GetPublicKeyRequest, kms.PublicKey),
            "AsymmetricSign": (self.asymmetric_sign, kms.AsymmetricSignRequest, kms.AsymmetricSignResponse),
        }

    def _with_faults(self, method: str, fn: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            resource = _resource_of(request)
            self.faults.count(method)
            delay = self.faults.latency(resource)
            if delay:
                time.sleep(delay)  # the latency fault: this server thread answers late on purpose
            if self.faults.take("unavailable", resource):
                _abort(context, grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable (emulator fault).")
            return fn(request, context)

        return handle

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                method: grpc.unary_unary_rpc_method_handler(
                    self._with_faults(method, fn),
                    request_deserializer=request_type.deserialize,
                    response_serializer=response_type.serialize,
                )
                for method, (fn, request_type, response_type) in self._methods().items()
            },
        )
