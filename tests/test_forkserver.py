"""The warm starter (tito/sandbox/forkserver.py): what a forked command sees must be what a fresh `python`
would give it, and the grader must see it as it would see a `subprocess.Popen`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tito.grading.execute import execute_submission
from tito.sandbox.forkserver import PIPE, ForkServer

SCRIPT = """\
import json, os, random, sys
import numpy as np
print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path,
                  "numpy": float(np.random.random()), "random": random.random(),
                  "environ_block": open("/proc/self/environ", "rb").read().decode(errors="replace")}))
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def server():
    os.environ["TITO_TEST_GRADER_SECRET"] = "s3cret-token"  # in the grader's environment only
    try:
        started = ForkServer()
    finally:
        del os.environ["TITO_TEST_GRADER_SECRET"]
    yield started
    started.close()


def run_script(server: ForkServer, folder: Path, code: str, env: dict) -> tuple[int, dict]:
    script = folder / "script.py"
    script.write_text(SCRIPT)
    process = server.spawn([sys.executable, str(script), str(code)], env, folder, None, stdout=PIPE)
    output = process.stdout.read()
    process.stdout.close()
    return process.wait(timeout=60), json.loads(output)


def test_a_forked_script_sees_what_a_fresh_python_would(server: ForkServer, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/nonexistent/kit", "MARKER": "yes"}
    code, seen = run_script(server, tmp_path, "3", env)
    assert code == 3
    assert seen["argv"] == [str(tmp_path / "script.py"), "3"]
    assert seen["cwd"] == str(tmp_path)
    assert seen["env"] == env
    assert seen["path"][:2] == [str(tmp_path), "/nonexistent/kit"]  # script folder, then PYTHONPATH


def test_the_grader_environment_never_reaches_a_child(server: ForkServer, tmp_path: Path) -> None:
    code, seen = run_script(server, tmp_path, "0", {"PATH": "/usr/bin:/bin"})
    assert code == 0
    assert "TITO_TEST_GRADER_SECRET" not in seen["env"]
    # the environment block the server was started with is what /proc shows a forked child
    assert "s3cret-token" not in seen["environ_block"]


def test_children_draw_different_random_numbers(server: ForkServer, tmp_path: Path) -> None:
    draws = [run_script(server, tmp_path, "0", {"PATH": "/usr/bin:/bin"})[1] for _ in range(3)]
    assert len({d["numpy"] for d in draws}) == 3
    assert len({d["random"] for d in draws}) == 3


def test_an_uncaught_exception_exits_1_and_a_kill_is_reported_as_a_signal(server: ForkServer, tmp_path: Path) -> None:
    (tmp_path / "fail.py").write_text("raise RuntimeError('no')\n")
    process = server.spawn([sys.executable, str(tmp_path / "fail.py")], {}, tmp_path, None, stderr=PIPE)
    assert process.wait(timeout=60) == 1
    assert b"RuntimeError: no" in process.stderr.read()
    (tmp_path / "sleep.py").write_text("import time\ntime.sleep(600)\n")
    process = server.spawn([sys.executable, str(tmp_path / "sleep.py")], {}, tmp_path, None)
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)
    process.kill()
    assert process.wait(timeout=60) == -signal.SIGKILL


def test_a_command_it_cannot_run_in_process_is_started_cold(server: ForkServer, tmp_path: Path) -> None:
    process = server.spawn([sys.executable, "-c", "import sys; print('cold'); sys.exit(4)"], {}, tmp_path, None,
                           stdout=PIPE)
    assert process.stdout.read() == b"cold\n"
    assert process.wait(timeout=60) == 4


def test_a_graded_kernel_is_a_real_ipykernel_with_its_usual_sys_path(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, os, ipykernel\nkernel = get_ipython().kernel\n"
        "print(type(kernel).__name__, sys.path[0].endswith('/kit') and '' in sys.path, os.environ['NBGRADER_EXECUTION'])"))
    result = execute_submission({"student": "s", "notebooks": {"nb": nbformat.writes(nb)}, "kit": {}, "timeout": 60,
                                 "sandbox": False})
    outputs = nbformat.reads(result["notebooks"]["nb"]["notebook"], as_version=4).cells[0].outputs
    assert [o.get("text") for o in outputs] == ["IPythonKernel True autograde\n"]


def test_a_child_killed_by_sigkill_leaves_no_traceback(tmp_path: Path) -> None:
    """The handle process ends the way its child ended; SIGKILL cannot be reset, so it must not try
    (it printed an OSError traceback on the grader's terminal and exited 125)."""
    server_stderr = tmp_path / "server-stderr"
    with open(server_stderr, "wb") as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)  # the server, and every handle it forks, writes its errors here
        try:
            server = ForkServer()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    try:
        (tmp_path / "die.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
        process = server.spawn([sys.executable, str(tmp_path / "die.py")], {}, tmp_path, None)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        server.close()
    assert server_stderr.read_text() == ""
