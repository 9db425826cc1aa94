"""Fault switches and call counters of the emulator, and the small gRPC control service that sets them.

Integrity checks that never fire in tests are untested code, so the emulator can misbehave on request:
corrupt the CRC32C of the next signatures or public keys, deny having verified the digest CRC, answer with
another key's name, answer UNAVAILABLE, or answer slowly. Each switch counts down the responses it spoils
(-1 = every one until reset), optionally only for resource names under ``scope``.

The control service (``signers.gcp_kms.emulator.Control``: SetFaults, GetFaults, Reset, Stats) carries JSON,
so a test talks to an emulator in another process with nothing but grpcio (see ``EmulatorControl``).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

import grpc

CONTROL_SERVICE = "signers.gcp_kms.emulator.Control"

#: the switches that count down; latency_ms and scope are settings
COUNTED = ("corrupt_signature_crc", "unverified_digest_crc", "wrong_name", "corrupt_pem_crc", "unavailable")


@dataclass
class FaultSettings:
    corrupt_signature_crc: int = 0  # AsymmetricSign answers a signature_crc32c that does not match
    unverified_digest_crc: int = 0  # AsymmetricSign answers verified_digest_crc32c = false
    wrong_name: int = 0  # AsymmetricSign / GetPublicKey answer with another version's name
    corrupt_pem_crc: int = 0  # GetPublicKey answers a pem_crc32c that does not match
    unavailable: int = 0  # any KeyManagementService call answers UNAVAILABLE
    latency_ms: float = 0.0  # added to every KeyManagementService call
    scope: str = ""  # only resources whose name starts with this (empty: all)


class Faults:
    """The emulator's live fault settings and per-method call counts; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._calls: Counter[str] = Counter()

    def set(self, **changes: Any) -> FaultSettings:
        """Replace the settings: switches not named go back to off."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(
                f"unknown fault switch(es): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        with self._lock:
            self._settings = FaultSettings(**changes)
            return FaultSettings(**asdict(self._settings))

    def get(self) -> FaultSettings:
        with self._lock:
            return FaultSettings(**asdict(self._settings))

    def reset(self) -> None:
        with self._lock:
            self._settings = FaultSettings()
            self._calls.clear()

    def take(self, switch: str, resource: str) -> bool:
        """True when this response must carry the fault ``switch`` (and count it down)."""
        with self._lock:
            left = getattr(self._settings, switch)
            if left == 0 or not resource.startswith(self._settings.scope):
                return False
            if left > 0:
                setattr(self._settings, switch, left - 1)
            return True

    def latency(self, resource: str) -> float:
        with self._lock:
            if resource.startswith(self._settings.scope):
                return self._settings.latency_ms / 1000.0
            return 0.0

    def count(self, method: str) -> None:
        with self._lock:
            self._calls[method] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


def _from_json(data: bytes) -> Any:
    return json.loads(data or b"{}")


def control_handler(faults: Faults) -> grpc.GenericRpcHandler:
    def set_faults(request: dict[str, Any], context: grpc.ServicerContext) -> dict[str, Any]:
        try:
            return asdict(faults.set(**request))
        except (TypeError, ValueError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # unreachable: abort raises

    def get_faults(request: dict[str, Any], context: grpc.ServicerContext) -> dict[str, Any]:
        return asdict(faults.get())

    def reset(request: dict[str, Any], context: grpc.ServicerContext) -> dict[str, Any]:
        faults.reset()
        return {}

    def stats(request: dict[str, Any], context: grpc.ServicerContext) -> dict[str, Any]:
        return faults.stats()

    methods = {"SetFaults": set_faults, "GetFaults": get_faults, "Reset": reset, "Stats": stats}
    return grpc.method_handlers_generic_handler(
        CONTROL_SERVICE,
        {
            name: grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=_from_json, response_serializer=_json_bytes
            )
            for name, fn in methods.items()
        },
    )


class EmulatorControl:
    """Client of the control service: ``EmulatorControl("127.0.0.1:PORT").set_faults(wrong_name=1)``."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        self._channel = grpc.insecure_channel(address)
        self._timeout = timeout

    def _call(self, method: str, body: dict[str, Any]) -> Any:
        stub = self._channel.unary_unary(
            f"/{CONTROL_SERVICE}/{method}", request_serializer=_json_bytes, response_deserializer=_from_json
        )
        return stub(body, timeout=self._timeout)

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("SetFaults", settings)
        return result

    def get_faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GetFaults", {})
        return result

    def reset(self) -> None:
        self._call("Reset", {})

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = self._call("Stats", {})
        return result

    def close(self) -> None:
        self._channel.close()
