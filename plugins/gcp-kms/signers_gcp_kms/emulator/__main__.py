"""``python -m signers_gcp_kms.emulator --port N [--data-dir DIR]``: run the Cloud KMS emulator."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from . import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signers_gcp_kms.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=9010, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--data-dir", help="keep keys in this directory across restarts (default: in memory)")
    args = parser.parse_args(argv)
    return serve(args.port, args.data_dir)


def serve(port: int, data_dir: str | None) -> int:
    # gRPC would bind a random port for an out-of-range one, and the caller would wait on the wrong port
    if not 0 <= port < 65536:
        print(f"error: --port must be 0 (any free port) or from 1 to 65535, not {port}", file=sys.stderr)
        return 2
    try:
        emulator = Emulator(port, data_dir).start()
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot start the Cloud KMS emulator on 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        emulator.stop(grace=1.0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # the one line on stdout: scripts and test fixtures read the address from it (useful with --port 0)
    print(f"Cloud KMS emulator listening on {emulator.address}", flush=True)
    emulator.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
