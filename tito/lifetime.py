"""How tito ends: nothing it started outlives it, and SIGTERM and SIGHUP stop it as Ctrl-C does.

Kernels and verifiers are forked by the warm starter (tito/sandbox/forkserver.py), which ends when
tito does, however tito ends (SIGKILL included), and takes everything it started with it. Here:

    stop_on_signals()     SIGINT, SIGTERM and SIGHUP raise `Stopped` in the main thread
    signals_deferred()    a step that must not be cut in half (recording a grade) finishes first
    run_stoppable(f, x)   f(x) in a worker thread: the main thread takes the signal, kills the
                          kernels at once and waits for the worker to clean up
    leftovers()           warm starters whose tito is gone (left by an older tito), for `tito doctor`
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WIND_DOWN = 60.0  # seconds a stopped worker gets to clean up (its kernel is already dead: it takes ~1 s)

T = TypeVar("T")


class Stopped(KeyboardInterrupt):
    """tito was asked to stop (Ctrl-C, SIGTERM, SIGHUP). A KeyboardInterrupt, so code that already
    cleans up after Ctrl-C does the same for the other two."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.note = ""  # what was done and what was not, e.g. how many grades were recorded

    @property
    def name(self) -> str:
        return "Ctrl-C (SIGINT)" if self.signum == signal.SIGINT else signal.Signals(self.signum).name


_state = {"deferring": 0, "pending": 0, "stopping": False}


def _on_signal(signum: int, frame) -> None:  # noqa: ARG001
    if _state["stopping"]:
        return  # the first signal is being honoured; cleaning up takes seconds, not forever
    if _state["deferring"]:
        _state["pending"] = _state["pending"] or signum
        return
    _state["stopping"] = True
    raise Stopped(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise `Stopped` (a signal ignored on entry, as under
    `nohup`, stays ignored). Main thread only; the previous handlers come back on exit."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    _state.update(deferring=0, pending=0, stopping=False)
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """A stop signal that arrives within takes effect when the block is done, not in its middle."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
    if not _state["deferring"] and _state["pending"] and not _state["stopping"]:
        _state["stopping"] = True
        raise Stopped(_state["pending"])


def stop_kernels() -> None:
    """End every kernel and verifier this process started, now, and start no other."""
    from tito.sandbox.forkserver import stop_warm_starter

    stop_warm_starter()


def run_stoppable(work: Callable[..., T], *args) -> T:
    """`work(*args)` in a worker thread while the main thread waits, so that a stop signal is taken
    at once (a kernel run by nbclient in the main thread would have nbclient's own signal handlers
    in the way). On a stop the kernels are killed, the worker winds down (its temporary folders
    removed), then `Stopped` goes on."""
    outcome: dict = {}
    # An Event, not Thread.join: a join interrupted by a signal handler's exception marks the thread
    # stopped while it still runs (CPython 3.11), and the wind-down wait would return at once.
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = work(*args)
        except BaseException as error:  # noqa: BLE001 -- handed to the main thread
            outcome["error"] = error
        finally:
            finished.set()

    threading.Thread(target=target, name="tito-worker", daemon=True).start()
    try:
        finished.wait()
    except BaseException:
        stop_kernels()
        finished.wait(WIND_DOWN)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# ---------------------------------------------------------------- leftovers, for `tito doctor`

@dataclass
class Leftover:
    pid: int  # the topmost process of the leftover tree (a warm starter, or a process A it forked)
    pids: list[int]  # it and everything below it
    socket_folder: str


def process_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, command line) of every process we can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = [a.decode(errors="replace") for a in cmdline.read().split(b"\0")[:-1]]
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
        table[int(entry)] = (parent, argv)
    return table


def starter_arguments(argv: list[str]) -> list[str] | None:
    """[SOCKET, PARENT_PID?] if `argv` runs tito's warm starter (`python -E -s .../forkserver.py ...`)."""
    for index, arg in enumerate(argv[:4]):
        if os.path.basename(arg) == "forkserver.py" and os.path.basename(os.path.dirname(arg)) in ("sandbox", "tito"):
            rest = argv[index + 1:]
            return rest if rest and rest[0].endswith("socket") else None
    return None


def leftovers() -> tuple[list[Leftover], list[Path]]:
    """Warm-starter process trees whose tito is gone, and socket folders no warm starter uses.

    The server records the pid of the tito that started it; a server whose parent is another
    process, or (older servers, without the record) init, outlived its tito. A process A forked by a
    server that is gone is a leftover too (same command line, its parent is no warm starter)."""
    table = process_table()
    starters = {pid: args for pid, (_, argv) in table.items() if (args := starter_arguments(argv)) is not None}
    found = []
    for pid, args in starters.items():
        parent = table[pid][0]
        if parent in starters:
            continue  # a process A of a live server, or B: part of its tree
        recorded = int(args[1]) if len(args) > 1 and args[1].isdigit() else None
        if (parent != recorded) if recorded is not None else parent == 1:
            tree, grew = {pid}, True
            while grew:
                below = {p for p, (pp, _) in table.items() if pp in tree} - tree
                tree |= below
                grew = bool(below)
            found.append(Leftover(pid, sorted(tree), os.path.dirname(args[0])))
    in_use = {os.path.dirname(args[0]) for args in starters.values()}
    stale = sorted(p for p in Path(tempfile.gettempdir()).glob("tito-forkserver-*") if str(p) not in in_use)
    return found, stale
