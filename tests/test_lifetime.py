"""Nothing outlives tito (issue 19): `tito check` and `tito grade` killed mid-cell by SIGKILL, SIGHUP
or SIGTERM leave no process and no socket folder behind, a pipe reading their output reaches EOF,
and `tito grade` records a submission whole or not at all."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from pipeline_helpers import add_ops_module, cell_scores, read_csv, submit

from tito.lifetime import Stopped, leftovers, signals_deferred, stop_on_signals
from tito.sandbox.forkserver import SERVER, ForkServer

# Liveness bounds, not speed targets: what takes 0.1-2 s on a quiet machine may take longer on a
# busy one, but "never" (the pipe held open by an orphan, a kernel spinning forever) fails.
FEW_SECONDS = 30.0
START_BOUND = 180.0  # tito started, kernels forked, the loop reached

LOOP_BODY = """\
    import os, subprocess
    subprocess.Popen(["sleep", "{token}"])  # the kernel's own child
    if os.fork() == 0:  # and a daemon: double-forked, in a session of its own
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "{token}"])
        os._exit(0)
    open("looping-{token}", "w").close()  # in the kernel's work folder: now provably mid-cell
    while True:
        pass
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """One 02_ops release (two graded tests) for every case: its kit for `tito check` (01_tensor
    revealed, so `Tensor` works in the kit), its gradebook for `tito grade`."""
    project = tmp_path_factory.mktemp("lifetime") / "project"
    shutil.copytree(ROOT / "modules" / "source", project / "modules" / "source",
                    ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    shutil.copytree(ROOT / "tinytorch", project / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "settings.ini", project / "settings.ini")
    add_ops_module(project)
    run_tito("release", "ops", "--reveal", "tensor", "--course", str(project / "course"), cwd=project)
    return project / "course"


def answered(course: Path, add_body: str) -> nbformat.NotebookNode:
    nb = nbformat.read(course / "kit" / "02_ops" / "ops.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            body = add_body if "def add" in cell.source else "    return Tensor(a.data * b.data)"
            cell.source = cell.source.split("    # YOUR CODE HERE")[0] + body
    return nb


# ---------------------------------------------------------------- processes, seen from /proc

def stat_of(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of `pid`, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0].decode(), int(fields[19])


def descendants(root: int) -> set[tuple[int, int]]:
    """(pid, start time) of `root` and everything below it."""
    table = {int(e): s for e in os.listdir("/proc") if e.isdigit() and (s := stat_of(int(e)))}
    tree, grew = {root}, True
    while grew:
        below = {pid for pid, (parent, _, _) in table.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return {(pid, table[pid][2]) for pid in tree if pid in table}


def running(processes: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Those still running (same pid, same start time, not a zombie)."""
    return {(pid, start) for pid, start in processes if (s := stat_of(pid)) and s[2] == start and s[1] != "Z"}


def with_token(token: str) -> set[tuple[int, int]]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if token.encode() in cmdline.read().split(b"\0") and (s := stat_of(int(entry))):
                        found.add((int(entry), s[2]))
            except OSError:
                continue
    return found


def kill_all(processes: set[tuple[int, int]]) -> None:
    for pid, _ in running(processes):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class CpuLoad:
    """Two busy processes (this machine has two cores), so a pass does not depend on an idle machine."""

    def __enter__(self) -> CpuLoad:
        self.burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        return self

    def __exit__(self, *exc) -> None:
        for burner in self.burners:
            burner.kill()
            burner.wait()


# ---------------------------------------------------------------- one kill

def kernels_looping(tmp: Path, token: str) -> list[Path]:
    """The loop markers of this run's kernels: in the TMPDIR's scratch folders (tito check's kernel-N), or
    on the grader slots' scratch disks (tito grade's run-N, sandboxed: tito/sandbox/caps.py)."""
    from tito.sandbox.sandbox import SLOT_DIR

    found = []
    for marker in (f"kernel-*/work/looping-{token}", f"run-*/work/looping-{token}"):
        found += [*tmp.glob(f"tito-grade-*/{marker}"), *SLOT_DIR.glob(f"scratch-*/{marker}")]
    return found


def kill_mid_cell(args: list[str], cwd: Path, number: int, loops: int, token: str, ready=None) -> dict:
    """Start `tito ARGS` with its output into a pipe and its temporary folders in a TMPDIR of its own;
    once `loops` kernels are provably in their loop (and `ready()` holds), send `number`; wait for
    the pipe's EOF. Returns what was seen; every process of the run is killed on the way out, and
    the TMPDIR removed, whatever happened."""
    tmp = Path(tempfile.mkdtemp(prefix="lt-"))  # short: the kernels' ipc socket paths must fit in 107 bytes
    env = dict(os.environ, TMPDIR=str(tmp))
    tito = subprocess.Popen([sys.executable, "-m", "tito.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    output, eof = bytearray(), threading.Event()

    def read() -> None:
        while chunk := tito.stdout.read1(65536):
            output.extend(chunk)
        eof.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started, snapshot = time.monotonic(), set()
    try:
        while len(kernels_looping(tmp, token)) < loops or (ready and not ready()):
            assert tito.poll() is None, f"tito ended before its loop was reached:\n{output.decode()}"
            assert time.monotonic() - started < START_BOUND, f"the loop was not reached:\n{output.decode()}"
            time.sleep(0.05)
        snapshot = descendants(tito.pid)
        assert len(snapshot) >= 4, snapshot  # tito, the warm starter, a kernel's A and B at least
        sockets = list(tmp.glob("tito-forkserver-*/socket"))
        assert sockets, "the warm starter's socket is where TMPDIR says"
        killed = time.monotonic()
        mid_cell = killed - started
        os.kill(tito.pid, number)
        assert eof.wait(FEW_SECONDS), f"the pipe reading tito's output is still open {FEW_SECONDS:g}s after {signal.Signals(number).name}"
        seconds = time.monotonic() - killed
        returncode = tito.wait(FEW_SECONDS)
        while (left := running(snapshot | with_token(token))) and time.monotonic() - killed < FEW_SECONDS:
            time.sleep(0.05)
        return {"mid_cell": mid_cell, "seconds": seconds, "returncode": returncode, "output": output.decode(), "left": left,
                "sockets": [s for s in sockets if s.parent.exists()], "tmp": sorted(p.name for p in tmp.iterdir())}
    finally:
        tito.kill()
        kill_all(descendants(tito.pid) | snapshot | with_token(token))
        tito.wait()
        shutil.rmtree(tmp, ignore_errors=True)  # after a SIGKILL, tito's own scratch folders are left


def assert_nothing_outlived(seen: dict, number: int, label: str) -> None:
    name = signal.Signals(number).name
    print(f"{label} {name}: mid-cell {seen['mid_cell']:.1f}s after start, pipe EOF {seen['seconds']:.2f}s after the signal")
    assert not seen["left"], f"{label} {name}: still running: {seen['left']}\n{seen['output']}"
    assert not seen["sockets"], f"{label} {name}: the warm starter's socket folder is left: {seen['sockets']}"
    if number == signal.SIGKILL:
        assert seen["returncode"] == -signal.SIGKILL
    else:  # as cleanly as Ctrl-C: it says so, and every temporary folder is gone
        assert seen["returncode"] == 128 + number, seen["output"]
        assert f"stopped by {name}" in seen["output"], seen["output"]
        assert seen["tmp"] == [], f"{label} {name}: temporary folders left: {seen['tmp']}"
        assert "Traceback" not in seen["output"], seen["output"]


CASES = [(signal.SIGTERM, False), (signal.SIGHUP, False), (signal.SIGKILL, False)]


@pytest.mark.parametrize(("number", "load"), [*CASES, (signal.SIGKILL, True)],
                         ids=["TERM", "HUP", "KILL", "KILL-under-load"])
def test_tito_check_killed_mid_cell_leaves_nothing_running(course: Path, number: int, load: bool) -> None:
    token = f"{90000 + number}{os.getpid()}"
    kit = course / "kit" / "02_ops"
    nbformat.write(answered(course, LOOP_BODY.format(token=token)), kit / f"loop_{token}.ipynb")
    args = ["check", f"loop_{token}.ipynb", "--timeout", "600"]
    with CpuLoad() if load else nullcontext():
        seen = kill_mid_cell(args, kit, number, loops=1, token=token)
    assert_nothing_outlived(seen, number, "tito check" + (" under load" if load else ""))


def test_tito_grade_killed_mid_cell_leaves_nothing_running_and_nothing_half_recorded(course: Path) -> None:
    """Two workers, three submissions: `a_done` is recorded while `b_loop` and `c_loop` spin; then
    tito is killed. What was recorded stays, nothing else is, and a re-run grades the rest."""
    token = f"{80000}{os.getpid()}"
    submit(course, "a_done", "02_ops", answered(course, "    return Tensor(a.data + b.data)"), "ops")
    for student in ("b_loop", "c_loop"):
        submit(course, student, "02_ops", answered(course, LOOP_BODY.format(token=token)), "ops")
    a_done_page = course / "feedback" / "a_done" / "02_ops" / "ops.html"  # written after its grades
    args = ["grade", "02_ops", "--course", str(course), "--workers", "2", "--timeout", "600", "--cell-timeout", "0"]
    full = {"test-add": (2.0, 2.0), "test-mul": (3.0, 3.0)}

    for index, (number, load) in enumerate([*CASES, (signal.SIGTERM, True)]):  # TERM and HUP first: a clean gradebook
        a_done_page.unlink(missing_ok=True)
        with CpuLoad() if load else nullcontext():
            seen = kill_mid_cell(args, course.parent, number, loops=2, token=token, ready=a_done_page.exists)
        assert_nothing_outlived(seen, number, "tito grade" + (" under load" if load else ""))
        assert cell_scores(course, "02_ops", "a_done") == full, "a recorded submission stays recorded"
        assert not any((course / folder / student).exists() for folder in ("autograded", "feedback") for student in ("b_loop", "c_loop"))
        if number != signal.SIGKILL:
            assert "1 of 3 submissions recorded; run `tito grade 02_ops` again" in seen["output"], seen["output"]
        if index < 2:  # nothing of the unfinished two in the gradebook (a SIGKILL, next, cannot clean up)
            assert cell_scores(course, "02_ops", "b_loop") == cell_scores(course, "02_ops", "c_loop") == {}

    # The re-run finishes the rest. The two loops are resubmitted so that it takes seconds, with a
    # limit no busy machine reaches: b_loop untouched (the release), c_loop answered.
    shutil.copy(course / "release" / "02_ops" / "ops.ipynb", course / "submitted" / "b_loop" / "02_ops" / "ops.ipynb")
    submit(course, "c_loop", "02_ops", answered(course, "    return Tensor(a.data + b.data)"), "ops")
    rerun = run_tito("grade", "02_ops", "--course", str(course), "--workers", "2", "--timeout", "600", cwd=course.parent)
    assert cell_scores(course, "02_ops", "a_done") == cell_scores(course, "02_ops", "c_loop") == full, rerun.stdout
    assert cell_scores(course, "02_ops", "b_loop") == {"test-add": (0.0, 2.0), "test-mul": (0.0, 3.0)}, rerun.stdout
    assert set(read_csv(course / "grades.csv")) == {("02_ops", s) for s in ("a_done", "b_loop", "c_loop")}
    assert not with_token(token)


# ---------------------------------------------------------------- the pieces, in-process

def test_a_stop_signal_waits_for_a_deferred_step_and_counts_once() -> None:
    steps = []
    previous = signal.getsignal(signal.SIGHUP)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with stop_on_signals():
            os.kill(os.getpid(), signal.SIGHUP)  # ignored on entry: stays ignored
            with pytest.raises(Stopped) as stopped:
                with signals_deferred():
                    os.kill(os.getpid(), signal.SIGTERM)
                    steps.append("recorded whole")
                steps.append("never reached")
            os.kill(os.getpid(), signal.SIGINT)  # already stopping: not a second interruption
        assert stopped.value.signum == signal.SIGTERM and steps == ["recorded whole"]
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_dead_warm_starter_takes_everything_it_started_with_it(tmp_path: Path) -> None:
    """Its end, however it comes (SIGKILL here: no code of its own runs), closes the lifeline of every
    command it forked; what a command leaves behind when it ends normally goes with it too."""
    token = f"{70000}{os.getpid()}"
    daemon = (f"import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              f"        os.execvp('sleep', ['sleep', '{token}'])\n    os._exit(0)\n")
    (tmp_path / "leaves.py").write_text(daemon)
    (tmp_path / "loops.py").write_text(daemon + "open('looping', 'w').close()\nwhile True:\n    pass\n")
    server, everything = ForkServer(), set()
    try:
        ended = server.spawn([sys.executable, str(tmp_path / "leaves.py")], {"PATH": "/usr/bin:/bin"}, tmp_path, None)
        assert ended.wait(timeout=60) == 0
        assert not running(with_token(token)), "a daemon outlived the command that started it"
        looping = server.spawn([sys.executable, str(tmp_path / "loops.py")], {"PATH": "/usr/bin:/bin"}, tmp_path, None)
        started = time.monotonic()
        while not (tmp_path / "looping").exists():
            assert time.monotonic() - started < START_BOUND
            time.sleep(0.02)
        everything = descendants(server.process.pid) | with_token(token)
        assert len(everything) >= 4  # server, A, B, the daemon
        server.process.kill()
        killed = time.monotonic()
        while running(everything) and time.monotonic() - killed < FEW_SECONDS:
            time.sleep(0.02)
        assert not running(everything), running(everything)
        assert looping.wait(timeout=FEW_SECONDS) == -signal.SIGKILL  # how the grader sees a dead server
    finally:
        kill_all(everything | descendants(server.process.pid) | with_token(token))
        server.close()


def test_doctor_reports_a_warm_starter_whose_tito_is_gone_and_how_to_stop_it(tmp_path: Path, capsys) -> None:
    from tito.doctor import run_doctor

    gone = subprocess.Popen(["true"])
    gone.wait()  # a tito that is gone: its pid is recorded, but it is no longer this server's parent
    folder = tmp_path / "tito-forkserver-left"
    folder.mkdir()
    server = subprocess.Popen([sys.executable, "-E", "-s", str(SERVER), str(folder / "socket"), str(gone.pid)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd="/",
                              env={"PATH": "/usr/bin:/bin", "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    try:
        assert server.stdout.readline() == b"ready\n"
        trees, _ = leftovers()
        assert [tree.pids for tree in trees if tree.pid == server.pid] == [[server.pid]]
        run_doctor()
        out = capsys.readouterr().out
        assert f"WARNING: leftover warm starter {server.pid} (1 process(es), {folder}): its tito is gone" in out, out
        command = next(line for line in out.splitlines() if "stop them with: " in line).split("stop them with: ")[1]
        removal = next(line for line in out.splitlines() if "remove them with: rm -rf " in line)
        assert str(folder) in removal.split("rm -rf ")[1].split(), out
        subprocess.run(command, shell=True, check=True)
        assert server.wait(timeout=FEW_SECONDS) == -signal.SIGKILL
        assert all(tree.pid != server.pid for tree in leftovers()[0])
    finally:
        server.kill()
        server.wait()
