"""Execute a submission's notebooks in a scratch folder, each in a fresh kernel, under a wall-clock limit.

`execute_submission(task) -> result` takes and returns plain data (strings, dicts), touches nothing
outside its own temporary folder and has no other side effect, so a local worker thread or a Dask
worker may run it, and running it twice is harmless. Deciding grades is the coordinator's job.

Execution is what nbgrader's `Execute` preprocessor does (an nbclient client: python3 kernel, go on
past errors, record errors the kernel replied with), driven from this (trusted) process; only the
kernel runs student code. The kernel starts in a session of its own (jupyter_client does that), and
at the deadline a watchdog kills it, everything descended from it and everything left in its session:
a kernel that ignores SIGINT dies all the same, and nbclient then reports the kernel dead.

`GradingKernelManager.format_kernel_cmd` is the one place that builds the command that runs student
code: a sandbox (issue 9) wraps that command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager


class GradingKernelManager(AsyncKernelManager):
    """The python3 kernel, started exactly as nbgrader's Execute starts it. Sandboxing wraps here."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return super().format_kernel_cmd(extra_arguments)


def read_kit(package_root: Path) -> dict[str, str]:
    """The grading `tinytorch` as {relative path: text}, shipped inside each task."""
    return {
        str(p.relative_to(package_root.parent)): p.read_text(encoding="utf-8")
        for p in sorted(package_root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def kernel_environment(kit_dir: Path, scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(kit_dir)  # the kit's tinytorch, never the reference package
    env["NBGRADER_EXECUTION"] = "autograde"  # what nbgrader sets while it autogrades
    env["IPYTHONDIR"] = str(scratch / "ipython")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, session id), read from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited meanwhile
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), int(fields[3]))
    return table


def kill_process_tree(root_pid: int) -> int:
    """SIGKILL `root_pid`, all its descendants and everything in their sessions; repeat until
    nothing is left. Returns how many processes were killed."""
    sessions = {root_pid}
    killed: set[int] = set()
    for _ in range(50):
        table = process_table()
        tree = {root_pid} if root_pid in table else set()
        grew = True
        while grew:
            found = {pid for pid, (ppid, _) in table.items() if ppid in tree} - tree
            tree |= found
            grew = bool(found)
        sessions |= {table[pid][1] for pid in tree}
        targets = tree | {pid for pid, (_, sid) in table.items() if sid in sessions}
        targets.discard(os.getpid())
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    return len(killed)


def first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def record_reply_error(cell, cell_index, execute_reply) -> None:  # noqa: ARG001
    """As nbgrader's Execute.on_cell_executed: an error the kernel replied with but never
    displayed (e.g. an interrupt) still becomes an error output, so the cell scores 0."""
    content = execute_reply["content"]
    if content["status"] != "error":
        return
    if any(o.output_type == "error" and o.ename == content["ename"] for o in cell.outputs):
        return
    cell.outputs.append(
        nbformat.NotebookNode(
            output_type="error",
            ename=content["ename"],
            evalue=content["evalue"],
            traceback=content["traceback"] or ["ERROR: An error occurred while showtraceback was disabled"],
        )
    )


class Watchdog:
    """Kills the kernel's process tree when the deadline passes (also if the kernel starts late)."""

    def __init__(self, seconds: float) -> None:
        self.lock = threading.Lock()
        self.kernel_pid: int | None = None
        self.expired = False
        self.timer = threading.Timer(max(seconds, 0.0), self.expire)
        self.timer.daemon = True

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            pid = self.kernel_pid
        if pid:
            kill_process_tree(pid)

    def kernel_started(self, pid: int) -> None:
        with self.lock:
            self.kernel_pid = pid
            late = self.expired
        if late:
            kill_process_tree(pid)


def run_notebook(notebook_json: str, name: str, scratch: Path, kit_dir: Path, seconds: float, limit: float) -> dict:
    """Execute one notebook; {"notebook": executed JSON or None, "reason": one line or None}."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    work = scratch / "work"
    work.mkdir(exist_ok=True)
    (work / f"{name}.ipynb").write_text(notebook_json, encoding="utf-8")
    nb = nbformat.reads(notebook_json, as_version=4)
    watchdog = Watchdog(seconds)
    running = {"index": None}
    client = NotebookClient(
        nb,
        kernel_name="python3",
        kernel_manager_class=GradingKernelManager,
        timeout=None,  # the wall-clock limit is the watchdog's
        allow_errors=True,
        record_timing=False,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        resources={"metadata": {"path": str(work)}},
        on_notebook_start=lambda notebook: watchdog.kernel_started(client.km.provisioner.pid),
        on_cell_start=lambda cell, cell_index: running.update(index=cell_index),
        on_cell_executed=record_reply_error,
    )
    reason = None
    watchdog.timer.start()
    try:
        # The kernel process's own stdout/stderr (start-up warnings) are not the notebook's output.
        client.execute(env=kernel_environment(kit_dir, scratch), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except DeadKernelError:
        reason = f"the kernel died while running cell {running['index']} (crash, os._exit or killed)"
    except Exception as error:  # anything else that stops execution is reported, not raised
        reason = f"execution failed at cell {running['index']}: {type(error).__name__}: {first_line(error)}"
    finally:
        watchdog.timer.cancel()
        if watchdog.kernel_pid:  # whatever the student's code left running dies with its kernel
            kill_process_tree(watchdog.kernel_pid)
    if watchdog.expired:
        return {"notebook": None, "reason": f"timed out after {limit:g}s (wall clock); all its processes were killed"}
    if reason:
        return {"notebook": None, "reason": reason}
    return {"notebook": nbformat.writes(nb), "reason": None}


def execute_submission(task: dict) -> dict:
    """task: {"student", "notebooks": {name: JSON text}, "kit": {path: text}, "timeout": seconds}.
    result: {"student", "notebooks": {name: {"notebook", "reason"}}, "seconds"}.
    The time limit is for the whole submission."""
    started = time.monotonic()
    results = {}
    with tempfile.TemporaryDirectory(prefix="tito-grade-") as folder:
        scratch = Path(folder)
        kit_dir = scratch / "kit"
        kit_dir.mkdir()
        for relative, text in task["kit"].items():
            target = kit_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for name, notebook_json in task["notebooks"].items():
            left = task["timeout"] - (time.monotonic() - started)
            results[name] = run_notebook(notebook_json, name, scratch, kit_dir, left, task["timeout"])
    return {"student": task["student"], "notebooks": results, "seconds": time.monotonic() - started}
