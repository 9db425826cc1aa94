"""What every benchmark shares: timing by medians, one row format, one table printer.

Each bench/bench_<area>.py exposes ``run() -> list[Row]`` (bench/run.py collects them into one table) and
prints its own table when run as a script. Quote medians and ratios: these machines are noisy.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass
class Row:
    group: str  # e.g. "conversion", "pkcs11", "aws-kms"
    name: str  # what was measured
    value: float  # the median (or the throughput)
    unit: str  # "us", "ms", "sig/s", "op/s"
    ratio: float | None = None  # value / baseline, when there is one
    baseline: str = ""  # what the ratio is against
    note: str = ""


def median_seconds(fn: Callable[[], object], repeat: int, warmup: int = 3) -> float:
    """Median wall time of one call, over ``repeat`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def batch_median_seconds(
    fn: Callable[[], object], batch: int, rounds: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median per-call time over ``rounds`` batches of ``batch`` calls: for calls too short to time singly.
    ``clock=time.thread_time`` counts this thread's CPU only (steady on a loaded machine)."""
    fn()
    samples = []
    for _ in range(rounds):
        start = clock()
        for _ in range(batch):
            fn()
        samples.append((clock() - start) / batch)
    return statistics.median(samples)


def alternating_rounds(
    bare: Callable[[], object],
    measured: Callable[[], object],
    rounds: int,
    batch: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], list[float]]:
    """Per-call seconds of each, round by round (a batch of ``bare`` then one of ``measured``), after three
    untimed calls of each: rounds alternate the two so that load from other processes hits both alike."""
    for _ in range(3):
        bare(), measured()
    bare_times, measured_times = [], []
    for _ in range(rounds):
        bare_times.append(batch_median_seconds(bare, batch, 1, clock))
        measured_times.append(batch_median_seconds(measured, batch, 1, clock))
    return bare_times, measured_times


def progress(bench: str) -> Callable[[str], None]:
    """A progress printer for ``bench`` (to stderr: stdout carries the table, or bench/run.py's JSON)."""

    def say(message: str) -> None:
        print(f"{bench}: {message}", file=sys.stderr, flush=True)

    return say


def print_table(rows: Iterable[Row], title: str = "") -> None:
    rows = list(rows)
    if title:
        print(f"\n## {title}\n")
    print("| group | measurement | median / rate | ratio | against | note |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        print(f"| {r.group} | {r.name} | {r.value:,.1f} {r.unit} | {ratio} | {r.baseline} | {r.note} |")
