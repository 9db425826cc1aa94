"""A Cloud KMS emulator: google.cloud.kms.v1.KeyManagementService over real gRPC, on 127.0.0.1.

Google ships no Cloud KMS emulator, so integration tests of code that signs with Cloud KMS (ours and our
users') run the real google-cloud-kms client against this one:

    python -m signers_gcp_kms.emulator --port 9010 [--data-dir DIR]      (or: signers gcp-kms emulator)

    with Emulator() as emulator:                                          (in-process, a free port)
        client = emulator.client()                                        # the real KeyManagementServiceClient
        emulator.faults.set(corrupt_signature_crc=1)                      # spoil the next signature's CRC

It holds EC signing keys (secp256k1 at the HSM protection level, P-256, P-384), signs with random nonces,
computes every CRC32C the real service returns, and answers Cloud KMS's status codes. Differences from the
real service: versions are ENABLED at once (no PENDING_GENERATION), any destroy_scheduled_duration is
accepted (0 destroys at once), there is no IAM, no import jobs, and only the methods a signing key needs.
"""

from __future__ import annotations

from concurrent import futures
from pathlib import Path
from types import TracebackType

import grpc

from .faults import EmulatorControl, Faults, FaultSettings, control_handler
from .service import KeyManagementService
from .store import Store

__all__ = ["Emulator", "EmulatorControl", "FaultSettings", "Faults"]

HOST = "127.0.0.1"  # never another interface: the emulator has no authentication


class Emulator:
    """The emulator's gRPC server. ``port=0`` picks a free port; ``address`` tells which."""

    def __init__(self, port: int = 0, data_dir: str | Path | None = None, max_workers: int = 32) -> None:
        self.store = Store(Path(data_dir) if data_dir is not None else None)
        self.faults = Faults()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kms-emu"))
        self._server.add_generic_rpc_handlers(
            (KeyManagementService(self.store, self.faults).handler(), control_handler(self.faults))
        )
        self.port = self._server.add_insecure_port(f"{HOST}:{port}")
        if self.port == 0:
            raise OSError(f"cannot listen on {HOST}:{port}")
        self.address = f"{HOST}:{self.port}"

    def start(self) -> Emulator:
        self._server.start()
        return self

    def stop(self, grace: float | None = None) -> None:
        self._server.stop(grace).wait()

    def wait(self) -> None:
        self._server.wait_for_termination()

    def client(self):  # type: ignore[no-untyped-def]  # google-cloud-kms is imported lazily, untyped here
        """The real ``KeyManagementServiceClient``, connected to this emulator."""
        from ..connection import sync_client

        return sync_client(self.address)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
