"""`make bench`: every bench/bench_*.py in one run, one table. Each module starts the services it needs and
runs in a process of its own: a PKCS#11 library, for one, is initialised once per process with one config.

python bench/run.py                  all benchmarks
python bench/run.py conversion pkcs11   only those (names after bench_)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.common import Row, print_table  # noqa: E402

# Runs one benchmark module; its rows go to stdout as the last line, JSON (its own prints go to stderr).
CHILD = """
import contextlib, dataclasses, importlib, json, sys
with contextlib.redirect_stdout(sys.stderr):
    rows = importlib.import_module("bench.bench_" + sys.argv[1]).run()
print(json.dumps([dataclasses.asdict(r) for r in rows]))
"""


def main(names: list[str]) -> int:
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    chosen = names or available
    unknown = set(chosen) - set(available)
    if unknown:
        print(f"error: no benchmark named {', '.join(sorted(unknown))} (have: {', '.join(available)})", file=sys.stderr)
        return 2
    rows: list[Row] = []
    failed = []
    for name in chosen:
        print(f"== bench_{name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, name], stdout=subprocess.PIPE, text=True, cwd=HERE.parent, check=False
        )
        if child.returncode == 0:
            rows.extend(Row(**row) for row in json.loads(child.stdout.splitlines()[-1]))
        else:
            failed.append(name)
        print(f"   done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print_table(rows, "signers benchmarks (medians; ratios in one run)")
    if failed:
        print(f"\nerror: benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
