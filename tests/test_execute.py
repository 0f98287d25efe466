"""The grading worker: a fresh kernel per notebook, the kit's stubbed `tinytorch`, and a wall-clock
limit that kills every process of the submission, SIGINT or not."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
from conftest import ROOT
from pipeline_helpers import leftover_grader_processes

from tito.grading.execute import execute_submission, read_kit
from tito.sandbox.diagnosis import DIAGNOSIS_KEY


def notebook_of(*sources: str) -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]))


def outputs_text(notebook_json: str) -> str:
    nb = nbformat.reads(notebook_json, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def stub_kit(tmp_path: Path) -> dict[str, str]:
    package = tmp_path / "kitsrc" / "tinytorch"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("KIT = True\n")
    (package / "core" / "__init__.py").write_text("")
    (package / "core" / "tensor.py").write_text("class Tensor:\n    def __init__(self, data):\n        raise NotImplementedError()\n")
    return read_kit(package)


def test_the_kernel_imports_the_kit_package_not_the_reference(tmp_path: Path) -> None:
    probe = (
        "import tinytorch, tinytorch.core.tensor as t\n"
        "print('FILE', tinytorch.__file__)\n"
        "try:\n    t.Tensor([1])\n    print('REFERENCE')\nexcept NotImplementedError:\n    print('STUB')"
    )
    result = execute_submission({"student": "s", "notebooks": {"nb": notebook_of(probe)}, "kit": stub_kit(tmp_path), "timeout": 120})
    outcome = result["notebooks"]["nb"]
    assert outcome["reason"] is None, outcome["reason"]
    text = outputs_text(outcome["notebook"])
    assert "STUB" in text and "REFERENCE" not in text, text
    reported = text.split("FILE ")[1].split()[0]
    assert not reported.startswith(str(ROOT)) and reported.endswith("kit/tinytorch/__init__.py"), reported


def processes_with(token: str) -> list[int]:
    """Processes whose command line contains `token` (pids inside the sandbox mean nothing here)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if token.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_timeout_kills_a_kernel_that_ignores_sigint_and_its_children(tmp_path: Path) -> None:
    token = f"{os.getpid()}.{time.time_ns() % 10**6}"
    stubborn = (
        "import os, signal, subprocess, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"child = subprocess.Popen(['sleep', '{token}'])\n"
        "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '" + token + "'])\n"
        "while True:\n    try:\n        time.sleep(0.05)\n    except BaseException:\n        pass"
    )
    started = time.monotonic()
    result = execute_submission({"student": "s", "notebooks": {"nb": notebook_of(stubborn)}, "kit": {}, "timeout": 8})
    elapsed = time.monotonic() - started
    outcome = result["notebooks"]["nb"]
    assert outcome["notebook"] is None and outcome["reason"].startswith("timed out after 8s"), outcome
    assert elapsed < 8 + 15, f"the limit was 8 s but grading took {elapsed:.1f} s"
    time.sleep(0.2)
    assert processes_with(token) == [], "a child of the kernel survived the timeout"
    assert leftover_grader_processes() == [], "a process of a grader user survived the timeout"


def test_a_dead_kernel_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    result = execute_submission(
        {"student": "s", "notebooks": {"nb": notebook_of("x = 1", "import os\nos._exit(3)", "y = 2")}, "kit": {}, "timeout": 120}
    )
    outcome = result["notebooks"]["nb"]
    assert outcome["notebook"] is None and outcome["reason"].startswith("the kernel died while running cell 1"), outcome


def test_nothing_is_left_running_after_a_normal_run(tmp_path: Path) -> None:
    token = f"{os.getpid()}.{time.time_ns() % 10**6 + 1}"
    leaves_a_process = f"import subprocess\np = subprocess.Popen(['sleep', '{token}'])"
    result = execute_submission({"student": "s", "notebooks": {"nb": notebook_of(leaves_a_process)}, "kit": {}, "timeout": 120})
    assert result["notebooks"]["nb"]["reason"] is None
    time.sleep(0.2)
    assert processes_with(token) == [], "a process started by the submission outlived grading"
    assert leftover_grader_processes() == [], "a process of a grader user outlived grading"


def test_limits_only_mode_refuses_unless_allowed_then_still_caps_the_submission(monkeypatch) -> None:
    """Where namespaces are missing, a task refuses to run student code and says which worker it is;
    allowed, it runs with the limits and the whole-submission caps, and the result says which mode ran."""
    from tito.grading import execute
    from tito.sandbox import caps, sandbox

    limits = sandbox.Support("limits", ("no PID/network/mount namespaces",))
    monkeypatch.setattr(sandbox, "support", lambda: limits)
    monkeypatch.setattr(execute, "recheck_support", lambda: limits)
    probe = "import resource\nprint('AS', resource.getrlimit(resource.RLIMIT_AS)[0])\nprint(open('/proc/self/cgroup').read())"
    task = {"student": "s", "notebooks": {"nb": notebook_of(probe)}, "kit": {}, "timeout": 120}
    refused = execute_submission(task)
    assert refused["notebooks"] == {} and refused["sandbox"]["mode"] == "limits", refused
    assert refused["refused"].startswith("worker local on ") and "no PID/network/mount namespaces" in refused["refused"]
    result = execute_submission(dict(task, allow_unsandboxed=True))
    outcome = result["notebooks"]["nb"]
    assert outcome["reason"] is None, outcome
    assert result["sandbox"]["mode"] == "limits" and "refused" not in result
    text = outputs_text(outcome["notebook"])
    if caps.caps_support().memory is not None:  # the whole submission's memory cap replaces the per-process one
        assert f"{caps.GROUP_PREFIX}" in text and "memory:" in text, text
    else:
        assert f"AS {sandbox.DEFAULT_MEMORY}" in text, text


def annotated(notebook_json: str) -> list[list[str]]:
    """Per cell: its outputs as 'text' or 'Error: value'."""
    nb = nbformat.reads(notebook_json, as_version=4)
    return [[(o.get("text") or f"{o.get('ename')}: {o.get('evalue')}").strip() for o in c.outputs] for c in nb.cells]


def graded_cell(source: str, grade_id: str, locked: bool = True, grade: bool = True) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": grade, "grade_id": grade_id, "locked": locked, "points": 1,
                                 "schema_version": 3, "solution": not locked, "task": False}
    return cell


LOOP = "while True:\n    pass\n"
LOOP_SWALLOWING_INTERRUPTS = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except BaseException:\n        pass\n"


def test_one_trusted_run_gives_the_notebook_and_the_verdict_and_forks_where_student_code_changes_the_tests() -> None:
    """Grading runs a notebook once (tito/sandbox/verifier.py): its outputs as a kernel makes them and
    the trusted verdict. Per-cell timeouts: an interrupt, or a kill and a run again without the cell.
    Where student code changes what the tests see (here `math.floor`), the run forks: the rest of
    the notebook runs as its kernel would (its outputs) and as the trusted run (the verdict)."""
    from tito.sandbox.verdict import verifier_input

    def notebook(loop: str, patch: str = "") -> nbformat.NotebookNode:
        return nbformat.v4.new_notebook(cells=[
            graded_cell("import math\nbefore = 1\n" + patch + "print('ran', before)", "setup", locked=False, grade=False),
            graded_cell("assert before == 1", "test-before"),
            graded_cell(loop + "needed = 2", "runaway", locked=False, grade=False),
            graded_cell("assert needed == 2", "test-needs-it"),
            graded_cell("assert before + 1 == 2", "test-independent"),
            graded_cell("assert math.floor(2.5) == 2, 'floor is broken'", "test-floor"),
        ])

    patch = "math.floor = lambda x: 42  # a cheat, or a slip: the notebook's tests now see it\n"
    notebooks = {"interrupted": notebook(LOOP), "killed": notebook(LOOP_SWALLOWING_INTERRUPTS),
                 "forked": notebook(LOOP_SWALLOWING_INTERRUPTS, patch)}
    imports = {"modules": {"math": "math"}, "preload": ["math"]}
    result = execute_submission({
        "student": "s", "notebooks": {name: nbformat.writes(nb) for name, nb in notebooks.items()}, "kit": {},
        "timeout": 120, "cell_timeout": 2, "verify": {name: verifier_input(nb, imports) for name, nb in notebooks.items()},
    })
    ran_past = "CellTimeout: cell runaway ran past 2 s"
    needs_it = "CellTimeout: cell runaway ran past 2 s; this test ran after it and failed (it may need that cell)"
    for name in notebooks:
        outcome = result["notebooks"][name]
        assert outcome["reason"] is None, outcome
        cells = annotated(outcome["notebook"])
        assert cells[0] == ["ran 1"] and cells[1] == [] and cells[4] == [], (name, cells)  # the tests before and beside it pass
        assert cells[2][0] == ran_past and cells[3][0] == needs_it and cells[3][1].startswith("NameError"), (name, cells)
        assert outcome["cpu"] > 0, outcome  # the warm starter reports what each run cost
    assert result["notebooks"]["interrupted"]["notes"] == ["cell runaway ran past 2 s (interrupted)"]
    assert annotated(result["notebooks"]["interrupted"]["notebook"])[2][1].startswith("KeyboardInterrupt")
    for name in ("killed", "forked"):
        assert result["notebooks"][name]["notes"][0].startswith("cell runaway ran past 2 s (it ignored the interrupt")
    # the notebook as its kernel ran it: the patched floor fails its test there ...
    assert annotated(result["notebooks"]["forked"]["notebook"])[5] == [needs_it, "AssertionError: floor is broken"]
    assert annotated(result["notebooks"]["killed"]["notebook"])[5] == []
    expected = {"test-before": [True, ""], "test-needs-it": [False, "NameError: name 'needed' is not defined"],
                "test-independent": [True, ""], "test-floor": [True, ""]}  # ... and passes in the trusted run
    for name, skipped in (("interrupted", []), ("killed", [2]), ("forked", [2])):
        verdict = result["notebooks"][name]["verdict"]
        results = dict(verdict["results"])
        evidence = results.pop(DIAGNOSIS_KEY, None)  # a test failed: the Start-here evidence comes along
        assert {"results": results, "runaway": verdict["runaway"]} == {"results": expected, "runaway": skipped}, (name, verdict)
        assert evidence is not None and evidence["tests"]["test-needs-it"]["error"] == "NameError", (name, evidence)


def test_tito_check_reports_a_runaway_cell_as_grading_does(tmp_path: Path) -> None:
    from conftest import run_tito

    nb = nbformat.v4.new_notebook(cells=[
        graded_cell("before = 1", "setup", locked=False, grade=False),
        graded_cell("assert before == 1", "test-before"),
        graded_cell(LOOP + "needed = 2", "runaway", locked=False, grade=False),
        graded_cell("assert needed == 2", "test-needs-it"),
        graded_cell("assert before + 1 == 2", "test-independent"),
    ])
    nbformat.write(nb, tmp_path / "mine.ipynb")
    (tmp_path / "tinytorch").mkdir()  # the student's own package: tito check refuses without one
    (tmp_path / "tinytorch" / "__init__.py").write_text("", encoding="utf-8")
    result = run_tito("check", "mine.ipynb", "--cell-timeout", "2", cwd=tmp_path, check=False)
    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stdout
    assert "note: cell runaway ran past 2 s (interrupted)" in lines, result.stdout
    assert any(line.split()[:2] == ["PASS", "test-before"] for line in lines), result.stdout
    assert any(line.split()[:2] == ["PASS", "test-independent"] for line in lines), result.stdout
    failed = [line for line in lines if line.split()[:2] == ["FAIL", "test-needs-it"]]
    assert failed and "CellTimeout: cell runaway ran past 2 s; this test ran after it" in failed[0], result.stdout
