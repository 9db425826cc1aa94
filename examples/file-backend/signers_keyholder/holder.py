"""The key holder: reads a hex private key from KEYFILE and signs digests for clients of a Unix socket.

    python -m signers_keyholder.holder KEYFILE SOCKET

The socket is created mode 0600 (only this user may ask for signatures). It prints ``ready`` once listening.
"""

from __future__ import annotations

import os
import socketserver
import sys

import coincurve


def main(argv: list[str]) -> int:
    key_file, path = argv[1], argv[2]
    with open(key_file) as handle:
        key = coincurve.PrivateKey(bytes.fromhex(handle.read().strip().removeprefix("0x")))

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            command, _, arg = self.rfile.readline().decode().strip().partition(" ")
            if command == "pubkey":
                answer = "ok " + key.public_key.format(compressed=False).hex()
            elif command == "sign" and len(arg) == 64:
                answer = "ok " + key.sign_recoverable(bytes.fromhex(arg), hasher=None)[:64].hex()
            else:
                answer = "error unknown request"
            self.wfile.write(answer.encode() + b"\n")

    old = os.umask(0o177)
    try:
        server = socketserver.UnixStreamServer(path, Handler)
    finally:
        os.umask(old)
    print("ready", flush=True)
    try:
        server.serve_forever()
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
