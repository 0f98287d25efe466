"""The course lock: one writer at a time per course folder.

nbgrader's sqlite gradebook is not safe for two writers (two `tito grade` runs at once recorded wrong
zeros: "UNIQUE constraint failed"), and two commands writing the same submission, feedback or CSV
would mix their results. So every command that writes to a course (grade, release, collect, roster,
override, return) holds an exclusive `flock` on `<course>/.tito.lock` for its whole run. A second one
waits, saying who holds the course, or with `--no-wait` refuses at once. The kernel releases the
lock when the holder exits, even when it is killed, so a crash never leaves a course locked.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tito.project import TitoError

LOCK_FILE = ".tito.lock"


def holder_of(lock: Path) -> str:
    try:
        text = lock.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "another tito command"


@contextmanager
def course_lock(course_root: Path, command: str, wait: bool = True, stream: TextIO | None = None) -> Iterator[None]:
    """Hold the course's lock while the block runs; `command` says who holds it (e.g. "grade 02_ops")."""
    stream = stream or sys.stderr
    course_root.mkdir(parents=True, exist_ok=True)
    lock = course_root / LOCK_FILE
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = holder_of(lock)
            if not wait:
                raise TitoError(
                    f"the course {course_root} is busy: {holder}; run this again when it has finished "
                    "(without --no-wait it waits)"
                ) from None
            print(f"tito: the course {course_root} is busy: {holder}; waiting for it to finish (Ctrl-C stops)",
                  file=stream, flush=True)
            started = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_EX)
            print(f"tito: the course is free after {time.monotonic() - started:.0f}s; going on", file=stream, flush=True)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"`tito {command}` (pid {os.getpid()}, since {time.strftime('%H:%M:%S')})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
