"""The demo's step-by-step report: numbered steps, aligned facts, and checks that stop the demo when they fail."""

from __future__ import annotations

import textwrap
from typing import TextIO

LABEL_WIDTH = 24


class DemoFailure(Exception):
    """A check of the demo did not hold: the message says which."""


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.steps = 0
        self.checks = 0

    def _print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def title(self, text: str) -> None:
        self._print(text)
        self._print("=" * len(text))

    def step(self, title: str) -> None:
        self.steps += 1
        heading = f"{self.steps}. {title}"
        self._print()
        self._print(heading)
        self._print("-" * len(heading))

    def fact(self, label: str, value: object) -> None:
        lines = str(value).splitlines() or [""]
        self._print(f"  {label + ':':<{LABEL_WIDTH}} {lines[0]}")
        for line in lines[1:]:
            self._print(f"  {'':<{LABEL_WIDTH}} {line}")

    def text(self, text: str) -> None:
        for line in textwrap.wrap(text, width=110, initial_indent="  ", subsequent_indent="  "):
            self._print(line)

    def refusal(self, label: str, error: BaseException) -> None:
        """A refusal the demo provoked on purpose, with the error text exactly as the library raised it."""
        self.fact(label, f"{type(error).__name__}")
        for line in textwrap.wrap(str(error), width=100):
            self._print(f"  {'':<{LABEL_WIDTH}} | {line}")

    def check(self, holds: bool, what: str) -> None:
        """Print ``what`` as verified, or stop the demo with it."""
        if not holds:
            raise DemoFailure(what)
        self.checks += 1
        self._print(f"  [ok] {what}")

    def done(self, seconds: float) -> None:
        self._print()
        self._print(f"Done: {self.steps} steps, {self.checks} checks passed, {seconds:.1f} s.")
