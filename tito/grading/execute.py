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

Per-cell timeouts (issue 15): a cell that runs past `cell_timeout` is interrupted (SIGINT, as
Jupyter's stop button); if its kernel does not come back within INTERRUPT_GRACE, the kernel is
killed, a fresh one re-runs the cells before it (skipping every runaway cell; their first outputs
are kept), and execution goes on after it. The runaway cell and the graded tests after it that fail
get an error output naming it ("cell GRADE_ID ran past 60 s"); every other test keeps its points.
The whole-submission `timeout` stays the hard cap. The trusted verifier follows the same rule: an
alarm interrupts the cell; if that is swallowed, the verifier is killed and run again skipping it.

Whole-submission caps (tito/sandbox/caps.py): memory, processes and scratch disk of all the
submission's processes together; a watcher polls them and, at the first hit, kills the submission,
which then scores 0 with the reason ("used more than 2 GiB of memory").

Each task checks the sandbox of the machine it runs on when it starts and reports it with its
result; a task that must be sandboxed refuses to run student code where the sandbox cannot be built.

`GradingKernelManager.format_kernel_cmd` is the one place that builds the command that runs student
code: the sandbox (tito/sandbox/sandbox.py) wraps it. The kernel talks to this process over unix sockets in
its scratch folder (it has no network, not even loopback), and its output is capped here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.util import run_sync

from tito.sandbox.caps import DEFAULT_MEMORY, SubmissionCaps
from tito.sandbox.forkserver import DEVNULL, PIPE, warm_starter
from tito.sandbox.sandbox import Jail, Slot, kill_until_gone, recheck_support, worker_report
from tito.sandbox.verifier import line_mac

OUTPUT_LIMIT = 1 << 20  # bytes of output kept per notebook; the rest is dropped, with a note
NOTE_ROOM = 1 << 10  # the trusted run's own note that it dropped output
VERIFIER = Path(__file__).resolve().parents[1] / "sandbox/verifier.py"  # run by path, in the sandbox
DIAGNOSIS = VERIFIER.with_name("diagnosis.py")  # loaded by the verifier when asked to diagnose
DEFAULT_CELL_TIMEOUT = 60.0  # seconds one cell may run
INTERRUPT_GRACE = 5.0  # seconds an interrupted cell gets to stop before its kernel is killed
CAPS_POLL = 0.2  # seconds between two looks at the submission's caps


class RunawayCell(Exception):
    """A cell ran past the cell timeout and did not stop when interrupted."""

    def __init__(self, index: int) -> None:
        super().__init__(f"cell {index} did not stop when interrupted")
        self.index = index


class GradingKernelManager(AsyncKernelManager):
    """The python3 kernel, with nbgrader Execute's command, environment and connection file, forked
    by the warm starter (tito/sandbox/forkserver.py) inside `jail` (None: unconfined)."""

    jail: Jail | None = None
    launched: list | None = None  # each kernel process started, for the CPU it used

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
        if self.launched is not None:
            self.launched.append(provisioner.process)
        provisioner.cwd = kw.get("cwd")
        self._reconcile_connection_info(provisioner.connection_info)


class GradingClient(NotebookClient):
    """nbclient's client with a sandboxed kernel manager, a cap on the output it keeps (a submission
    printing gigabytes leaves a truncated notebook, not a full memory or disk) and per-cell
    timeouts: interrupt, and if the kernel does not come back, a fresh kernel that replays the
    cells before the runaway one without it (`runaway`: cell index -> "interrupted" or "killed")."""

    def __init__(self, nb, jail: Jail | None, ipc: Path, cell_timeout: float | None = None,
                 after_kill: Callable[[], None] | None = None, **kwargs) -> None:
        kwargs.setdefault("shell_timeout_interval", 1)  # a kernel dead before its first reply is seen in 1 s, not 5
        super().__init__(nb, **kwargs)
        self.jail, self.ipc = jail, ipc
        self.output_bytes = 0
        self.truncated = False
        self.cell_timeout = cell_timeout or None
        self.timeout_func = (lambda cell: self.cell_timeout) if self.cell_timeout else None
        self.after_kill = after_kill  # kills what a killed kernel left behind (its user's, its cgroup's processes)
        self.runaway: dict[int, str] = {}
        self.current_index: int | None = None
        self.start_options: dict = {}
        self.launched: list = []  # every kernel process this client started (replays start more)

    async def async_execute(self, reset_kc: bool = False, **kwargs) -> nbformat.NotebookNode:
        """nbclient's `async_execute`, going on after a cell that would not stop."""
        from nbclient.util import ensure_async

        self.reset_execution_trackers()
        self.start_options = kwargs
        async with self.async_setup_kernel(**kwargs):
            info = await self.async_wait_for_reply(await ensure_async(self.kc.kernel_info()))
            if info is not None and "language_info" in info["content"]:
                self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                try:
                    await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1)
                except RunawayCell:
                    self.runaway[index] = "killed"
                    cell["execution_count"] = self.code_cells_executed
                    await self.replay_before(index)
            self.set_widgets_metadata()
        return self.nb

    execute = run_sync(async_execute)  # nbclient binds its own async_execute here: rebind ours

    async def async_execute_cell(self, cell, cell_index: int, execution_count=None, store_history: bool = True):
        self.current_index = cell_index
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    async def _async_handle_timeout(self, timeout, cell=None):
        """The running cell is past the cell timeout: interrupt it; if the kernel answers within the
        grace period, that reply ends the cell (a KeyboardInterrupt error); else RunawayCell."""
        from queue import Empty

        from nbclient.util import ensure_async

        index = self.current_index
        self.runaway[index] = "interrupted"
        await ensure_async(self.km.interrupt_kernel())
        deadline = time.monotonic() + min(INTERRUPT_GRACE, self.cell_timeout or INTERRUPT_GRACE)
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except Empty:
                break
            if message.get("msg_type") == "execute_reply":  # one cell runs at a time: it is this one's
                return message
        raise RunawayCell(index)

    async def replay_before(self, index: int) -> None:
        """Kill the kernel, start a fresh one and re-run the code cells before `index` that did not
        run away, their outputs discarded (the first run's stay in the notebook)."""
        while True:
            await self.fresh_kernel()
            kept = (self.code_cells_executed, self.output_bytes, self.truncated)
            try:
                for earlier in range(index):
                    original = self.nb.cells[earlier]
                    if earlier in self.runaway or original.cell_type != "code":
                        continue
                    replica = nbformat.from_dict(original)  # a copy: nbclient fills in its outputs
                    replica.outputs = []
                    try:
                        await self.async_execute_cell(replica, earlier)
                    finally:
                        self.nb.cells[earlier] = original  # nbclient puts the copy it ran in its place
                return
            except RunawayCell as again:  # a cell that ran away only this time: skip it too, start over
                self.runaway[again.index] = "killed"
            finally:
                self.code_cells_executed, self.output_bytes, self.truncated = kept

    async def fresh_kernel(self) -> None:
        process = self.km.provisioner.process if self.km.provisioner else None
        if process is not None:
            kill_process_tree(process.pid)
            if self.after_kill is not None:
                self.after_kill()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        await self._async_cleanup_kernel()
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel(**self.start_options)
        await self.async_start_new_kernel_client()

    def create_kernel_manager(self):
        km = GradingKernelManager(kernel_name="python3", transport="ipc", ip=str(self.ipc / "kernel"),
                                  connection_file=str(self.ipc / "kernel.json"))
        km.jail, km.launched = self.jail, self.launched
        self.km = km
        return km

    # nbclient's own clean-up, when a kernel dies while starting (tito stopping kills it): its
    # alive-poll outlives the client it polls, and its exit hook stays registered with nothing to clean.
    async def _async_check_alive(self) -> None:
        from nbclient.exceptions import DeadKernelError

        if self.kc is None:
            raise DeadKernelError("Kernel died")
        await super()._async_check_alive()

    def _cleanup_kernel(self) -> None:
        if self.km is not None:
            super()._cleanup_kernel()

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
                 readable: tuple[Path, ...] = (), keep_stdout: bool = False, caps: SubmissionCaps | None = None,
                 memory: int = DEFAULT_MEMORY) -> None:
        self.folder = scratch / label
        self.work, self.ipc = self.folder / "work", self.folder / "ipc"
        for folder in (self.folder, self.work, self.ipc):
            folder.mkdir()
        self.folder.chmod(0o711)
        self.jail = None
        if slot is not None:
            self.jail = Jail(slot, self.folder, readable=[kit_dir, *readable], writable=[self.work, self.ipc],
                             memory=memory, cpu_seconds=int(seconds) + 1, keep_stdout=keep_stdout, caps=caps)
            self.jail.hand_over(self.work)
            self.jail.hand_over(self.ipc)

    def remove(self) -> None:
        """Its folders go once its processes are dead: the space is the submission's, on its scratch disk."""
        shutil.rmtree(self.folder, ignore_errors=True)


class CapsWatch:
    """Looks at the submission's caps every CAPS_POLL seconds while one of its processes runs; at
    the first hit, `kill()`s it. `reason`: the cap hit, also if only seen at the end (a full disk)."""

    def __init__(self, caps: SubmissionCaps | None, kill: Callable[[], None]) -> None:
        self.caps, self.kill = caps, kill
        self.reason: str | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self) -> None:
        while not self.stopped.wait(CAPS_POLL):
            reason = self.caps.hit()
            if reason:
                self.reason = reason
                self.kill()
                return

    def __enter__(self) -> CapsWatch:
        if self.caps is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.caps is None:
            return
        self.stopped.set()
        self.thread.join()
        self.reason = self.reason or self.caps.hit()


def cell_label(cell, index: int) -> str:
    """How a student finds the cell: its nbgrader grade_id, else its position in the notebook."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"#{index + 1}"


def is_graded(cell) -> bool:
    return cell.cell_type == "code" and bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


def runaway_error(message: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename="CellTimeout", evalue=message, traceback=[f"CellTimeout: {message}"])


def mark_runaway_cells(nb: nbformat.NotebookNode, runaway: dict[int, str], seconds: float) -> list[str]:
    """Each runaway cell gets an error output saying so (a graded one then scores 0), and so does
    each graded test after one that failed (it may need that cell); the notes for the grade's reasons."""
    notes = []
    for index, how in sorted(runaway.items()):
        cell, label = nb.cells[index], cell_label(nb.cells[index], index)
        message = f"cell {label} ran past {seconds:g} s"
        notes.append(message + (" (interrupted)" if how == "interrupted" else
                                " (it ignored the interrupt: the kernel was restarted and the cells before it re-run without it)"))
        cell.outputs.insert(0, runaway_error(message))
    if runaway:
        for index in range(min(runaway) + 1, len(nb.cells)):
            cell = nb.cells[index]
            if index in runaway or not is_graded(cell) or not any(o.output_type == "error" for o in cell.outputs):
                continue
            last = max(i for i in runaway if i < index)
            cell.outputs.insert(0, runaway_error(f"cell {cell_label(nb.cells[last], last)} ran past {seconds:g} s; "
                                                 "this test ran after it and failed (it may need that cell)"))
    return notes


def run_notebook(notebook_json: str, name: str, run: Run, kit_dir: Path, seconds: float, limit: float,
                 cell_timeout: float | None = None, caps: SubmissionCaps | None = None,
                 after_kill: Callable[[], None] | None = None) -> dict:
    """Execute one notebook; {"notebook": executed JSON or None, "reason": one line or None,
    "notes": [runaway cells], "cpu": the kernels' CPU seconds}."""
    from nbclient.exceptions import DeadKernelError

    (run.work / f"{name}.ipynb").write_text(notebook_json, encoding="utf-8")
    nb = nbformat.reads(notebook_json, as_version=4)
    watchdog = Watchdog(seconds)
    running = {"index": None}
    client = GradingClient(
        nb,
        run.jail,
        run.ipc,
        cell_timeout=cell_timeout,
        after_kill=after_kill,
        kernel_name="python3",
        timeout=None,  # per cell: cell_timeout; the whole notebook's wall-clock limit is the watchdog's
        allow_errors=True,
        record_timing=False,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        resources={"metadata": {"path": str(run.work)}},
        on_notebook_start=lambda notebook: watchdog.kernel_started(client.km.provisioner.pid),
        on_cell_start=lambda cell, cell_index: running.update(index=cell_index),
        on_cell_executed=record_reply_error,
    )

    def kill_submission() -> None:
        if watchdog.kernel_pid:
            kill_process_tree(watchdog.kernel_pid)
        caps.kill_all()

    reason = None
    watchdog.timer.start()
    try:
        with CapsWatch(caps, kill_submission) as watch:
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
    finally:
        watchdog.timer.cancel()
    kernel_cpu = processes_cpu(client.launched)
    if watchdog.expired:
        return {"notebook": None, "reason": f"timed out after {limit:g}s (wall clock); all its processes were killed"}
    if watch.reason:
        return {"notebook": None, "reason": f"{watch.reason}; it was stopped"}
    if reason:
        return {"notebook": None, "reason": reason}
    notes = mark_runaway_cells(nb, client.runaway, cell_timeout or 0)
    return {"notebook": nbformat.writes(nb), "reason": None, "notes": notes, "cpu": kernel_cpu}


def processes_cpu(processes: list) -> float:
    """CPU seconds the ended warm-started processes used (each with all it waited for)."""
    total = 0.0
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        total += process.cpu or 0.0
    return total


def warm_starter_cpu() -> float:
    """CPU seconds the warm starter of this process used itself (its imports, forking), 0 if none ran.
    What it forked is counted apart: each command's CPU comes with its exit status."""
    from tito.sandbox import forkserver

    server = forkserver._server
    if server is None:
        return 0.0
    try:
        with open(f"/proc/{server.process.pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return 0.0


def tests_import(task: dict) -> tuple[str, ...]:
    """The modules the graded tests import (hypothesis, ...), for the warm starter to load once;
    never the kit's own package, which only the sandboxed process may import (from its kit)."""
    kit_packages = {relative.split("/")[0] for relative in task["kit"]}
    wanted = {name for verify in task.get("verify", {}).values() for name in verify.get("preload", [])}
    return tuple(sorted(name for name in wanted if name.split(".")[0] not in kit_packages))


def execute_submission(task: dict) -> dict:
    """task: {"student", "notebooks": {name: JSON text}, "kit": {path: text}, "timeout": seconds,
    optional "cell_timeout": seconds (default 60; 0: none), "memory": bytes for the whole
    submission (default 2 GiB), "sandbox": False (tito check: the student's own machine),
    "allow_unsandboxed": True (run even where this machine cannot build the sandbox),
    "verify": {name: verifier input} (the graded tests to re-run in the trusted verifier)}.
    result: {"student", "notebooks": {name: {"notebook", "reason", "verdict", "notes"}}, "seconds",
    "sandbox": worker_report() (this machine's sandbox, checked as the task starts), and "refused":
    why nothing ran, when the sandbox was required and could not be built}.
    The time limit is for the whole submission (each verifier run gets its own, as long)."""
    started = time.monotonic()
    results = {}
    sandboxed = task.get("sandbox", True)
    report = worker_report(recheck_support()) if sandboxed else {"mode": "off", "missing": [], "caps": [], "worker": "local"}
    if sandboxed and report["mode"] != "namespaces" and not task.get("allow_unsandboxed"):
        why = "; ".join(report["missing"]) or f"mode {report['mode']}"
        return {"student": task["student"], "notebooks": {}, "seconds": time.monotonic() - started, "sandbox": report,
                "refused": f"worker {report['worker']} cannot build the sandbox ({why}); no student code ran there"}
    cell_timeout = task.get("cell_timeout", DEFAULT_CELL_TIMEOUT)
    memory = task.get("memory", DEFAULT_MEMORY)
    warm_starter(preload=tests_import(task))
    with Slot() as slot, SubmissionCaps(slot.number if sandboxed else None, memory) as caps:
        scratch = caps.scratch
        watched = caps if sandboxed else None

        def clean() -> None:  # after each process: nothing of it may outlive it
            slot.clean()
            caps.kill_all()

        kit_dir = scratch / "kit"
        kit_dir.mkdir()
        for relative, text in task["kit"].items():
            target = kit_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for number, (name, notebook_json) in enumerate(task["notebooks"].items()):
            left = task["timeout"] - (time.monotonic() - started)
            verify = task.get("verify", {}).get(name)
            if verify is not None:  # grading: one trusted run gives the notebook and the verdict
                run = Run(scratch, f"run-{number}", slot if sandboxed else None, kit_dir, left,
                          readable=(VERIFIER, DIAGNOSIS), keep_stdout=True, caps=watched, memory=memory)
                results[name] = run_graded(notebook_json, name, verify, run, kit_dir, left, task["timeout"], cell_timeout,
                                           watched)
            else:
                run = Run(scratch, f"kernel-{number}", slot if sandboxed else None, kit_dir, left, caps=watched, memory=memory)
                results[name] = run_notebook(notebook_json, name, run, kit_dir, left, task["timeout"], cell_timeout, watched,
                                             after_kill=clean)
            clean()
            run.remove()
    return {"student": task["student"], "notebooks": results, "seconds": time.monotonic() - started, "sandbox": report}


FORGED = ("needs review: a line on the trusted run's answer channel was not written by the trusted run "
          "(student code writing to the grader); nothing it said was used")
VERDICT_LIMIT = 1 << 20  # bytes of verifier answer read at most
NOTEBOOK_ANSWER_LIMIT = 16 << 20  # ... when it also sends the notebook's outputs (at most 1 MiB of text, JSON-escaped)


def run_verifier(verify: dict, run: Run, kit_dir: Path, seconds: float, cell_timeout: float | None = None,
                 caps: SubmissionCaps | None = None, spent: list | None = None) -> dict:
    """The graded tests re-run by tito/sandbox/verifier.py in a fresh sandboxed process: {"results":
    {grade_id: [passed, message]}, "runaway": [code cell positions it had to skip]}, {"error": why
    there is no verdict}, or {"cap": the cap the submission hit}. A cell that runs past the cell
    timeout and swallows the verifier's alarm gets the verifier killed and run again without it."""
    deadline = time.monotonic() + seconds
    skip = list(verify.get("skip", []))
    while True:
        outcome, value, status = verifier_attempt(dict(verify, skip=skip), run, kit_dir, deadline, cell_timeout, caps, spent)
        if outcome == "cap":
            return {"cap": value}
        if outcome == "verdict":
            return {"results": value, "runaway": skip}
        if outcome == "runaway" and value is not None and value not in skip:
            skip.append(value)
            continue
        if outcome == "timeout":
            return {"error": f"the trusted re-run timed out after {seconds:g}s"}
        if outcome == "forged":
            return {"error": FORGED}
        return {"error": f"the trusted re-run ended without a verdict (exit status {status})"}


def run_graded(notebook_json: str, name: str, verify: dict, run: Run, kit_dir: Path, seconds: float, limit: float,
               cell_timeout: float | None = None, caps: SubmissionCaps | None = None) -> dict:
    """Grading's one execution of a notebook: tito/sandbox/verifier.py runs it once, in a fresh
    sandboxed process, and sends both the notebook's outputs (as its kernel would have made them)
    and the trusted verdict. The same result as `run_notebook`, plus "verdict" (as `run_verifier`'s).

    A cell that runs past the cell timeout is interrupted; one that swallows the interrupt gets
    the run killed and started again without it. Where student code changes what the tests would
    see, the run forks and the rest of the notebook runs twice (its kernel's way, and trusted);
    it then gets `seconds` once more."""
    import json

    (run.work / f"{name}.ipynb").write_text(notebook_json, encoding="utf-8")  # the notebook is in its folder, as in a kernel's
    deadline = time.monotonic() + seconds
    skip: list[int] = []
    spent: list = []
    task = dict(verify, notebook=True, diagnose="on-failure" if verify.get("diagnose") else False)
    while True:
        heard: dict = {"outputs": {}, "extension": seconds}
        outcome, value, status = verifier_attempt(dict(task, skip=skip), run, kit_dir, deadline, cell_timeout, caps, spent,
                                                  heard)
        if outcome == "runaway" and value is not None and value not in skip:
            skip.append(value)
            continue
        break
    cpu = processes_cpu(spent)
    nb = json.loads(notebook_json)
    code = [i for i, cell in enumerate(nb["cells"]) if cell.get("cell_type") == "code"]
    where = f"cell {code[heard['cell']]}" if heard.get("cell") is not None and heard["cell"] < len(code) else "a cell"
    if outcome == "cap":
        return {"notebook": None, "reason": f"{value}; it was stopped", "cpu": cpu}
    if outcome == "timeout":
        return {"notebook": None, "reason": f"timed out after {limit:g}s (wall clock); all its processes were killed", "cpu": cpu}
    if outcome == "forged":
        return {"notebook": None, "reason": FORGED, "cpu": cpu}
    if outcome != "verdict":
        return {"notebook": None, "reason": f"the kernel died while running {where} (crash, os._exit or killed)", "cpu": cpu}
    runaway = {code[position]: "killed" for position in skip if position < len(code)}
    spent_text, cut = 0, False
    for position, index in enumerate(code):
        cell = nb["cells"][index]
        payload = heard["outputs"].get(position)
        try:
            said = json.loads(payload) if payload is not None else {}
        except ValueError:
            said = {}
        said = said if isinstance(said, dict) else {}
        outputs = []
        for output in said.get("outputs") if isinstance(said.get("outputs"), list) else []:
            kept = notebook_output(output)
            if kept is None:
                continue
            if kept["output_type"] != "error":
                spent_text += output_size(kept)
                if spent_text > OUTPUT_LIMIT + NOTE_ROOM:  # the run's own cap (and its note), enforced again here
                    if not cut:
                        cut = True
                        outputs.append(nbformat.v4.new_output(
                            "stream", name="stderr", text=f"\n[output truncated by the grader after {OUTPUT_LIMIT} bytes]\n"))
                    continue
            outputs.append(kept)
        cell["outputs"] = outputs
        count = said.get("count")
        cell["execution_count"] = count if type(count) is int and count >= 0 else None
        if said.get("late") is True and index not in runaway:
            runaway[index] = "interrupted"
    executed = nbformat.from_dict(nb)
    notes = mark_runaway_cells(executed, runaway, cell_timeout or 0)
    results = value if isinstance(value, dict) else {}
    return {"notebook": json.dumps(executed), "reason": None, "notes": notes,
            "verdict": {"results": results, "runaway": skip}, "cpu": cpu}


def notebook_output(output) -> dict | None:
    """One output the trusted run reported, rebuilt from what nbformat allows (its process ran
    student code: anything else is dropped), or None."""
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") in ("stdout", "stderr") and isinstance(output.get("text"), str):
            return {"output_type": "stream", "name": output["name"], "text": output["text"]}
        return None
    if kind in ("display_data", "execute_result"):
        data, metadata = output.get("data"), output.get("metadata")
        if not isinstance(data, dict) or not isinstance(metadata, dict):
            return None
        kept = {mime: value for mime, value in data.items() if isinstance(mime, str)
                and (isinstance(value, str) or mime == "application/json" or mime.endswith("+json"))}
        if not kept:
            return None
        made = {"output_type": kind, "data": kept, "metadata": metadata}
        if kind == "execute_result":
            count = output.get("execution_count")
            made["execution_count"] = count if type(count) is int else None
        return made
    if kind == "error":
        traceback = output.get("traceback")
        if isinstance(output.get("ename"), str) and isinstance(output.get("evalue"), str) and isinstance(traceback, list):
            return {"output_type": "error", "ename": output["ename"], "evalue": output["evalue"],
                    "traceback": [line for line in traceback if isinstance(line, str)]}
    return None


def output_size(output: dict) -> int:
    return len(output.get("text", "")) + sum(len(str(v)) for v in output.get("data", {}).values())


def verifier_attempt(verify: dict, run: Run, kit_dir: Path, deadline: float, cell_timeout: float | None,
                     caps: SubmissionCaps | None, spent: list | None = None,
                     heard: dict | None = None) -> tuple[str, object, int | None]:
    """One run of the verifier: ("verdict", results), ("runaway", code cell position), ("timeout", None),
    ("cap", reason), ("forged", None) (a line without the run's tag: student code wrote it) or
    ("ended", None); and its exit status. It says "cell N" before each cell.
    With `heard` (the notebook's one trusted run), what it says of the notebook is collected there:
    "outputs" {code cell position: JSON text}, "cell" (the last cell it started), "notebook_done"
    (a forked notebook run finished), "forked" (its reason); a fork gets another `extension` seconds."""
    import hmac
    import json
    import queue
    import secrets

    key = secrets.token_bytes(32)  # the answer's lines are tagged with it: student code writing there is seen
    verify = dict(verify, kit=str(kit_dir), cell_timeout=cell_timeout or 0, key=key.hex())
    process = warm_starter().spawn([sys.executable, "-I", str(VERIFIER)], kernel_environment(kit_dir, run.work), run.work,
                                   run.jail.spec() if run.jail else None, stdin=PIPE, stdout=PIPE, stderr=DEVNULL)
    if spent is not None:
        spent.append(process)
    lines: queue.Queue = queue.Queue()

    def talk() -> None:
        try:
            process.stdin.write(json.dumps(verify).encode())
            process.stdin.close()
        except OSError:
            pass
        budget = VERDICT_LIMIT if heard is None else NOTEBOOK_ANSWER_LIMIT
        while budget > 0:
            line = process.stdout.readline(budget)
            if not line:
                break
            budget -= len(line)
            lines.put(line)
        lines.put(None)

    def kill() -> None:
        kill_process_tree(process.pid)
        if caps is not None:
            caps.kill_all()

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    outcome: tuple[str, object] = ("ended", None)
    with CapsWatch(caps, kill) as watch:
        current, since = None, time.monotonic()
        while True:
            wait = deadline - time.monotonic()
            if current is not None and cell_timeout:
                wait = min(wait, since + cell_timeout + min(INTERRUPT_GRACE, cell_timeout) - time.monotonic())
            try:
                line = lines.get(timeout=max(wait, 0))
            except queue.Empty:
                outcome = ("timeout", None) if time.monotonic() >= deadline else ("runaway", current)
                break
            if line is None:
                break
            if not line.endswith(b"\n"):  # cut off by the budget or by the process's end: not a line
                continue
            tag, _, text = line.decode("utf-8", "replace").rstrip("\n").partition(" ")
            if not hmac.compare_digest(tag, line_mac(key, text)):
                outcome = ("forged", None)  # written by student code, not by the trusted run
                break
            if text.startswith("cell ") and text[5:].isdigit():
                current, since = int(text[5:]), time.monotonic()
                if heard is not None:
                    heard["cell"] = current
            elif heard is not None and text.startswith("out "):
                position, _, payload = text[4:].partition(" ")
                if position.isdigit():
                    heard["outputs"][int(position)] = payload
            elif heard is not None and text.startswith("diverged ") and "forked" not in heard:
                heard["forked"] = text[9:]
                deadline += heard.get("extension", 0)  # the rest of the notebook runs twice from here
            elif heard is not None and text == "notebook-done":
                heard["notebook_done"] = True
            elif heard is not None and text == "notebook-ended" and not heard.get("notebook_done"):
                outcome = ("ended", None)  # the notebook's run died (os._exit, a crash): no verdict needed
                break
            elif text.startswith("verdict "):
                try:
                    outcome = ("verdict", json.loads(text[8:]))
                except ValueError:
                    pass
                break
        if outcome[0] != "verdict":
            kill()
    try:
        # After its verdict the verifier exits by itself, and its handle reaps it. Killed from here, it
        # would linger as an orphan zombie until init reaps it, and the cleaning up waits for that.
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        kill()
        process.wait()
    talker.join(5)
    process.stdout.close()
    if watch.reason:
        return "cap", watch.reason, process.returncode
    return outcome[0], outcome[1], process.returncode
