"""A signing process of the fleet tests: ``python -m tests.audit.worker URL THREADS COUNT OUT``.

It enables the audit trail at URL, signs COUNT random digests over THREADS threads with the local test key,
and appends "digest signature" to OUT for each signature the moment ``sign_digest`` returns it (one write
per line, O_APPEND: lines of several processes never interleave). A signing error ends the thread with the
error's type on stderr; COUNT=0 signs until killed. URL "-" signs with no trail (the benchmark's baseline).
Prints the signing phase's start and end (unix seconds) on stdout. With AUDIT_WORKER_BARRIER=1 it prints
"ready" once set up and starts signing when a line arrives on stdin (so that a fleet starts together).
"""

from __future__ import annotations

import os
import sys
import threading
import time

import signers
from signers.audit import AuditTrail


def main(url: str, threads: int, count: int, out: str) -> int:
    if url != "-":
        AuditTrail(url).enable()
    signer = signers.load_signer("local:env:AUDIT_TEST_KEY")
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    errors: list[str] = []

    def work(n: int) -> None:
        done = 0
        while count == 0 or done < n:
            digest = os.urandom(32)
            try:
                signature = signer.sign_digest(digest)
            except signers.SignerError as error:
                errors.append(type(error).__name__)
                return
            os.write(fd, f"0x{digest.hex()} {signature.to_hex()}\n".encode())
            done += 1

    shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    workers = [threading.Thread(target=work, args=(share,)) for share in shares]
    if os.environ.get("AUDIT_WORKER_BARRIER") == "1":
        print("ready", flush=True)
        sys.stdin.readline()
    started = time.time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(started, time.time())
    if errors:
        print(" ".join(sorted(set(errors))), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
