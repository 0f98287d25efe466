"""A one-line progress bar on stderr: done/total, failures, rate. Plain ASCII."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.label, self.width = total, label, width
        self.stream = stream or sys.stderr
        self.done = self.failed = 0
        self.started = time.monotonic()
        self.live = self.stream.isatty()
        self.last_printed = -1

    def line(self) -> str:
        filled = self.width * self.done // max(self.total, 1)
        elapsed = time.monotonic() - self.started
        rate = 60.0 * self.done / elapsed if elapsed > 0 else 0.0
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} failed {self.failed} {rate:.1f}/min {elapsed:.0f}s"

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if self.live:
            self.stream.write("\r" + self.line())
            if self.done == self.total:
                self.stream.write("\n")
        elif self.done == self.total or 10 * self.done // max(self.total, 1) > self.last_printed:
            self.last_printed = 10 * self.done // max(self.total, 1)
            self.stream.write(self.line() + "\n")
        self.stream.flush()
