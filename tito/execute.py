"""Execute a submission's notebooks in a scratch folder, each in a fresh kernel, under a wall-clock limit.

`execute_submission(task) -> result` takes and returns plain data (strings, dicts), touches nothing
outside its own temporary folder and has no other side effect, so a local worker thread or a Dask
worker may run it, and running it twice is harmless. Deciding grades is the coordinator's job.

Each notebook runs in `python -m tito.runner` (see runner.py), started in its own session. The
kernel it starts is in a session of its own too (jupyter_client does that), so on timeout we kill
every process descended from the runner and every process left in either session: a kernel that
ignores SIGINT dies all the same.

`launch_runner` is the one place that starts untrusted code: a sandbox wraps that command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def read_kit(package_root: Path) -> dict[str, str]:
    """The grading `tinytorch` as {relative path: text}, shipped inside each task."""
    return {
        str(p.relative_to(package_root.parent)): p.read_text(encoding="utf-8")
        for p in sorted(package_root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def runner_environment(kit_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(kit_dir)  # the kit's tinytorch, never the reference package
    env["NBGRADER_EXECUTION"] = "autograde"  # what nbgrader sets while it autogrades
    env["JUPYTER_RUNTIME_DIR"] = str(kit_dir.parent / "runtime")  # connection files stay in scratch
    env["IPYTHONDIR"] = str(kit_dir.parent / "ipython")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def launch_runner(notebook: Path, output: Path, status: Path, kit_dir: Path, log) -> subprocess.Popen:
    """Start the process that runs student code. Sandboxing (issue 9) wraps this command."""
    command = [sys.executable, "-m", "tito.runner", str(notebook), str(output), str(status)]
    return subprocess.Popen(
        command,
        cwd=notebook.parent,
        env=runner_environment(kit_dir),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


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


def kill_process_tree(root_pid: int, sessions: set[int]) -> int:
    """SIGKILL `root_pid`, all its descendants and everything in `sessions` (plus the sessions of
    the descendants); repeat until nothing is left. Returns how many processes were killed."""
    sessions = set(sessions)
    killed: set[int] = set()
    for _ in range(50):
        table = process_table()
        tree = {root_pid} if root_pid in table else set()
        grew = True
        while grew:
            found = {pid for pid, (ppid, _) in table.items() if ppid in tree} - tree
            tree |= found
            grew = bool(found)
        sessions |= {table[pid][1] for pid in tree if pid in table}
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


def run_notebook(notebook_json: str, name: str, scratch: Path, kit_dir: Path, timeout: float, limit: float) -> dict:
    """Execute one notebook; {"notebook": executed JSON or None, "reason": one line or None}."""
    work = scratch / "work"
    work.mkdir(exist_ok=True)
    source, output, status = work / f"{name}.ipynb", scratch / "executed.ipynb", scratch / "status.json"
    for stale in (output, status):
        stale.unlink(missing_ok=True)
    source.write_text(notebook_json, encoding="utf-8")
    with open(scratch / "runner.log", "wb") as log:
        runner = launch_runner(source, output, status, kit_dir, log)
        timed_out = False
        try:
            runner.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        facts = json.loads(status.read_text(encoding="utf-8")) if status.is_file() else {}
        kernel = facts.get("kernel_pid")
        # Also after a normal exit: whatever the student's code left running dies with it.
        kill_process_tree(runner.pid, {runner.pid} | ({kernel} if kernel else set()))
        runner.wait()
    if timed_out:
        return {"notebook": None, "reason": f"timed out after {limit:g}s (wall clock); all its processes were killed"}
    if facts.get("reason"):
        return {"notebook": None, "reason": facts["reason"]}
    if runner.returncode != 0 or not output.is_file():
        tail = (scratch / "runner.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return {"notebook": None, "reason": f"the grading runner failed ({runner.returncode}): {(tail or [''])[-1][:200]}"}
    return {"notebook": output.read_text(encoding="utf-8"), "reason": None}


def execute_submission(task: dict) -> dict:
    """task: {"student", "notebooks": {name: JSON text}, "kit": {path: text}, "timeout": seconds}.
    result: {"student", "notebooks": {name: {"notebook", "reason"}}, "seconds"}.
    The time limit is for the whole submission."""
    started = time.monotonic()
    results = {}
    with tempfile.TemporaryDirectory(prefix="tito-grade-") as folder:
        scratch = Path(folder)
        kit_dir = scratch / "kit"
        for relative, text in task["kit"].items():
            target = kit_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        kit_dir.mkdir(exist_ok=True)
        for name, notebook_json in task["notebooks"].items():
            left = task["timeout"] - (time.monotonic() - started)
            if left <= 0:
                results[name] = {"notebook": None, "reason": f"timed out after {task['timeout']:g}s (wall clock)"}
                continue
            results[name] = run_notebook(notebook_json, name, scratch, kit_dir, left, task["timeout"])
    return {"student": task["student"], "notebooks": results, "seconds": time.monotonic() - started}
