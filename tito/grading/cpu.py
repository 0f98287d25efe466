"""Where `tito grade`'s CPU goes, by phase: what `bench/grading.py` prints and the README's table.

The coordinator's phases are timed with its own thread's CPU clock (waiting costs nothing), the
worker threads with theirs, and each sandboxed run is reported by the warm starter (the CPU of that
process and everything it waited for). Set TITO_CPU_REPORT=FILE and `tito grade` writes the
figures there as JSON: seconds per phase, and the number of submissions.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPORT_VARIABLE = "TITO_CPU_REPORT"
COORDINATOR = ("set-up", "prepare", "record", "feedback", "csv")  # timed on the coordinator's thread


class CpuMeter:
    """CPU seconds by phase. `phase` times the calling thread; `add` takes a figure measured elsewhere."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.lock = threading.Lock()
        self.started = time.thread_time()

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.spent[name] = self.spent.get(name, 0.0) + seconds

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.thread_time() - began)

    def figures(self) -> dict[str, float]:
        """The phases, and the coordinator thread's time in none of them ("coordinator other")."""
        figures = dict(self.spent)
        timed = sum(v for k, v in figures.items() if k in COORDINATOR)
        figures["coordinator other"] = max(0.0, time.thread_time() - self.started - timed)
        return figures


def write_report(meter: CpuMeter, submissions: int) -> None:
    """The figures as JSON into $TITO_CPU_REPORT, if set."""
    target = os.environ.get(REPORT_VARIABLE)
    if target:
        Path(target).write_text(json.dumps({"submissions": submissions, "cpu": meter.figures()}), encoding="utf-8")
