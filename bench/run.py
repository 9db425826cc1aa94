"""`make bench`: every bench/bench_*.py in one run, one table. Each module starts the services it needs.

python bench/run.py                  all benchmarks
python bench/run.py conversion pkcs11   only those (names after bench_)
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.common import Row, print_table  # noqa: E402


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
        try:
            rows.extend(importlib.import_module(f"bench.bench_{name}").run())
        except Exception:
            failed.append(name)
            traceback.print_exc()
        print(f"   done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print_table(rows, "signers benchmarks (medians; ratios in one run)")
    if failed:
        print(f"\nerror: benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
