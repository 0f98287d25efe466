"""Execute a submission's notebooks in a scratch folder, each in a fresh sandboxed kernel, under a
wall-clock limit; then re-run its graded tests in a trusted verifier (tito/sandbox/verifier.py).

`execute_submission(task) -> result` takes and returns plain data (strings, dicts), touches nothing
outside its own temporary folder and has no other side effect, so a local worker thread or a Dask
worker may run it, and running it twice is harmless. Deciding grades is the coordinator's job.

Execution is what nbgrader's `Execute` preprocessor does (an nbclient client: python3 kernel, go on
past errors, record errors the kernel replied with), driven from this (trusted) process; only the
kernel runs student code. The kernel starts in a session of its own (jupyter_client does that), and
at the deadline a watchdog kills it, everything descended from it and everything left in its session:
a kernel that ignores SIGINT dies all the same, and nbclient then reports the kernel dead.

`GradingKernelManager.format_kernel_cmd` is the one place that builds the command that runs student
code: the sandbox (tito/sandbox/sandbox.py) wraps it. The kernel talks to this process over unix sockets in
its scratch folder (it has no network, not even loopback), and its output is capped here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from tito.sandbox.forkserver import DEVNULL, PIPE, warm_starter
from tito.sandbox.sandbox import Jail, Slot, kill_until_gone, support
from tito.sandbox.verdict import diagnose_if_failed

OUTPUT_LIMIT = 1 << 20  # bytes of output kept per notebook; the rest is dropped, with a note
VERIFIER = Path(__file__).resolve().parents[1] / "sandbox" / "verifier.py"
DIAGNOSIS = VERIFIER.with_name("diagnosis.py")  # loaded by the verifier when asked to diagnose


class GradingKernelManager(AsyncKernelManager):
    """The python3 kernel, with nbgrader Execute's command, environment and connection file, forked
    by the warm starter (tito/sandbox/forkserver.py) inside `jail` (None: unconfined)."""

    jail: Jail | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        if self.jail is not None:
            self.jail.hand_over(Path(self.connection_file))  # written 0600 by jupyter_client
        return command

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        # LocalProvisioner.launch_kernel, with the starter's ForkedProcess in place of a Popen
        provisioner = self.provisioner
        provisioner.process = warm_starter().spawn(kernel_cmd, kw["env"], kw.get("cwd") or os.getcwd(),
                                                   self.jail.spec() if self.jail else None)
        provisioner.pid = provisioner.pgid = provisioner.process.pid  # its own session and group
        provisioner.cwd = kw.get("cwd")
        self._reconcile_connection_info(provisioner.connection_info)


class GradingClient(NotebookClient):
    """nbclient's client with a sandboxed kernel manager and a cap on the output it keeps:
    a submission printing gigabytes leaves a truncated notebook, not a full memory or disk."""

    def __init__(self, nb, jail: Jail | None, ipc: Path, **kwargs) -> None:
        super().__init__(nb, **kwargs)
        self.jail, self.ipc = jail, ipc
        self.output_bytes = 0
        self.truncated = False

    def create_kernel_manager(self):
        km = GradingKernelManager(kernel_name="python3", transport="ipc", ip=str(self.ipc / "kernel"),
                                  connection_file=str(self.ipc / "kernel.json"))
        km.jail = self.jail
        self.km = km
        return km

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        size += sum(len(line) for line in content.get("traceback", []))
        self.output_bytes += size
        if self.output_bytes > OUTPUT_LIMIT and msg["msg_type"] != "error":
            if not self.truncated:
                self.truncated = True
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"\n[output truncated by the grader after {OUTPUT_LIMIT} bytes]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)


def read_kit(package_root: Path) -> dict[str, str]:
    """The grading `tinytorch` as {relative path: text}, shipped inside each task."""
    return {
        str(p.relative_to(package_root.parent)): p.read_text(encoding="utf-8")
        for p in sorted(package_root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


PASSED_THROUGH = ("PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "SYSTEMROOT")


def kernel_environment(kit_dir: Path, home: Path) -> dict[str, str]:
    """A small environment: nothing of the grader's (tokens, database URLs) reaches student code."""
    env = {k: v for k, v in os.environ.items() if k in PASSED_THROUGH or k.startswith("LC_")}
    env.setdefault("PATH", "/usr/bin:/bin")
    env["HOME"] = str(home)
    env["PYTHONPATH"] = str(kit_dir)  # the kit's tinytorch, never the reference package
    env["NBGRADER_EXECUTION"] = "autograde"  # what nbgrader sets while it autogrades
    env["IPYTHONDIR"] = str(home / ".ipython")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["MPLBACKEND"] = "Agg"
    for threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[threads] = "1"  # one core per worker; threads also count against the process limit
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

    def targets() -> set[int]:
        table = process_table()
        tree = {root_pid} if root_pid in table else set()
        grew = True
        while grew:
            found = {pid for pid, (ppid, _) in table.items() if ppid in tree} - tree
            tree |= found
            grew = bool(found)
        sessions.update(table[pid][1] for pid in tree)  # remembered: a session outlives its leader
        return (tree | {pid for pid, (_, sid) in table.items() if sid in sessions}) - {os.getpid()}

    return kill_until_gone(targets, rounds=50)


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


class Run:
    """One sandboxed process (a kernel or the verifier): fresh work and socket folders under the
    submission's scratch, owned by the worker's user, and the jail it runs in."""

    def __init__(self, scratch: Path, label: str, slot: Slot | None, kit_dir: Path, seconds: float,
                 readable: tuple[Path, ...] = (), keep_stdout: bool = False) -> None:
        self.folder = scratch / label
        self.work, self.ipc = self.folder / "work", self.folder / "ipc"
        for folder in (self.folder, self.work, self.ipc):
            folder.mkdir()
        self.folder.chmod(0o711)
        self.jail = None
        if slot is not None:
            self.jail = Jail(slot, self.folder, readable=[kit_dir, *readable], writable=[self.work, self.ipc],
                             cpu_seconds=int(seconds) + 1, keep_stdout=keep_stdout)
            self.jail.hand_over(self.work)
            self.jail.hand_over(self.ipc)


def run_notebook(notebook_json: str, name: str, run: Run, kit_dir: Path, seconds: float, limit: float) -> dict:
    """Execute one notebook; {"notebook": executed JSON or None, "reason": one line or None}."""
    from nbclient.exceptions import DeadKernelError

    (run.work / f"{name}.ipynb").write_text(notebook_json, encoding="utf-8")
    nb = nbformat.reads(notebook_json, as_version=4)
    watchdog = Watchdog(seconds)
    running = {"index": None}
    client = GradingClient(
        nb,
        run.jail,
        run.ipc,
        kernel_name="python3",
        timeout=None,  # the wall-clock limit is the watchdog's
        allow_errors=True,
        record_timing=False,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        resources={"metadata": {"path": str(run.work)}},
        on_notebook_start=lambda notebook: watchdog.kernel_started(client.km.provisioner.pid),
        on_cell_start=lambda cell, cell_index: running.update(index=cell_index),
        on_cell_executed=record_reply_error,
    )
    reason = None
    watchdog.timer.start()
    try:
        # The kernel process's own stdout/stderr (start-up warnings) are not the notebook's output.
        client.execute(env=kernel_environment(kit_dir, run.work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    """task: {"student", "notebooks": {name: JSON text}, "kit": {path: text}, "timeout": seconds,
    optional "sandbox": False (tito check: the student's own machine), "verify": {name: verifier
    input} (the graded tests to re-run in the trusted verifier)}.
    result: {"student", "notebooks": {name: {"notebook", "reason", "verdict"}}, "seconds", "sandbox"}.
    The time limit is for the whole submission (each verifier run gets its own, as long)."""
    started = time.monotonic()
    results = {}
    sandboxed = task.get("sandbox", True)
    with tempfile.TemporaryDirectory(prefix="tito-grade-") as folder, Slot() as slot:
        scratch = Path(folder)
        scratch.chmod(0o711)
        kit_dir = scratch / "kit"
        kit_dir.mkdir()
        for relative, text in task["kit"].items():
            target = kit_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for number, (name, notebook_json) in enumerate(task["notebooks"].items()):
            left = task["timeout"] - (time.monotonic() - started)
            run = Run(scratch, f"kernel-{number}", slot if sandboxed else None, kit_dir, left)
            results[name] = run_notebook(notebook_json, name, run, kit_dir, left, task["timeout"])
            slot.clean()
            verify = task.get("verify", {}).get(name)
            if verify is not None and results[name]["reason"] is None:
                verify = diagnose_if_failed(verify, results[name]["notebook"])  # Start here: only for failures
                run = Run(scratch, f"verifier-{number}", slot if sandboxed else None, kit_dir, task["timeout"],
                          readable=(VERIFIER, DIAGNOSIS), keep_stdout=True)
                results[name]["verdict"] = run_verifier(verify, run, kit_dir, task["timeout"])
                slot.clean()
    return {"student": task["student"], "notebooks": results, "seconds": time.monotonic() - started,
            "sandbox": support().mode if sandboxed else "off"}


VERDICT_LIMIT = 1 << 20  # bytes of verifier answer read at most


def run_verifier(verify: dict, run: Run, kit_dir: Path, seconds: float) -> dict:
    """The graded tests re-run by tito/sandbox/verifier.py in a fresh sandboxed process: {"results":
    {grade_id: [passed, message]}} or {"error": why there is no verdict}."""
    import json

    verify = dict(verify, kit=str(kit_dir))
    process = warm_starter().spawn([sys.executable, "-I", str(VERIFIER)], kernel_environment(kit_dir, run.work), run.work,
                                   run.jail.spec() if run.jail else None, stdin=PIPE, stdout=PIPE, stderr=DEVNULL)
    answer = {}

    def talk() -> None:
        try:
            process.stdin.write(json.dumps(verify).encode())
            process.stdin.close()
        except OSError:
            pass
        answer["raw"] = process.stdout.read(VERDICT_LIMIT)

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    talker.join(seconds)
    timed_out = talker.is_alive()
    kill_process_tree(process.pid)
    process.wait()
    talker.join(5)
    process.stdout.close()
    if timed_out:
        return {"error": f"the trusted re-run timed out after {seconds:g}s"}
    try:
        return {"results": json.loads(answer.get("raw", b"").decode("utf-8", "replace"))}
    except ValueError:
        return {"error": f"the trusted re-run ended without a verdict (exit status {process.returncode})"}
