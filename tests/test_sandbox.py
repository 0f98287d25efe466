"""Hostile submissions, graded by the real `tito grade` in one batch with two honest ones.

Every hostile notebook is the 07_autograd release filled in (or not) plus one attack, built from
the CURRENT release. One batch, 2 workers, a short cell timeout. Asserted: each attack's expected
score and reason, what the attack saw (its own printed output), the honest students' grades, nothing
of the grader users left running, nothing written outside the scratch space, no connection made;
the whole-submission caps (memory of all its processes together, processes, scratch disk) each
stop the submission that hits them with that reason; a verdict forged on the answer channel is seen; a cell that loops at the top of the last
solution, interruptible or not, costs only the tests that need it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from pipeline_helpers import cell_scores, leaked_scratch_disks, leftover_grader_processes, read_csv

from tito.notebook import read_source
from tito.project import select_modules
from tito.sandbox.caps import GROUP_PREFIX, caps_support
from tito.sandbox.sandbox import support

sys.path.insert(0, str(ROOT / "examples"))
import sample_submissions as samples  # noqa: E402

MODULE = select_modules(ROOT, ["07_autograd"])[0]
TIMEOUT = "120"  # the hard cap per submission; no student of this batch should reach it
# The slowest cell of this batch (FLOOD: 1.25 GiB of output) takes 13 s on the loaded 2-core machine;
# the `loop` and `sigint` students cost this once each (the trusted run is the notebook's run).
CELL_TIMEOUT = "30"
# Skipped only without root (a developer's own machine); as root, a sandbox that cannot be built fails the batch.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the full sandbox needs root (CI runs as root)")


def test_as_root_this_machine_builds_the_full_sandbox() -> None:
    assert support().mode == "namespaces", support()

# The honest `partial` student's mistake; the allclose cheat makes the same one.
ADD_MISTAKE = samples.Mistake(
    cell="add", old="lambda g: g, lambda g: g)", new="lambda g: g, lambda g: 0 * g)",
    fails=frozenset({"test-add", "test-backpropagate", "test-broadcasting", "test-chain-rule", "test-matmul",
                     "test-scalar-training"}),
    why="add passes no gradient to b",
)

LOOP = "while True:\n    pass\n"

MEMORY_BOMB = """\
import numpy as np
blocks = []
try:
    while True:
        blocks.append(np.ones(1 << 25))  # 256 MiB each, written
except MemoryError:
    print(f"MEMORY LIMITED after {len(blocks) * 256} MiB")
del blocks
"""

MEMORY_IN_PROCESSES = """\
import os, time
import numpy as np
children = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        block = np.ones(1 << 27)  # 1 GiB in each of 5 processes, every page written
        time.sleep(60)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("5 GiB HELD")
"""

DISK_FILL = """\
for number in range(20):  # 20 files of 60 MiB (each under the 64 MiB limit per file), half in /tmp
    folder = "/tmp" if number % 2 else "."
    with open(f"{folder}/fill-{number}.bin", "wb") as handle:
        handle.write(b"x" * (60 << 20))
print("1.2 GiB WRITTEN")
"""

FORK_BOMB = """\
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:  # double-forked: no longer the kernel's child
                time.sleep(3600)
            os._exit(0)
        children += 1
except OSError as error:
    print(f"FORK LIMITED after {children} children: {type(error).__name__}")
"""

FLOOD = """\
import os, sys
chunk = "x" * (1 << 20)
for _ in range(1024):  # 1 GiB through the kernel's stdout
    sys.stdout.write(chunk)
for _ in range(256):  # 256 MiB straight to file descriptor 1
    os.write(1, chunk.encode())
"""

EXIT = "import os\nos._exit(0)\n"

TRANSFORMER_CHEAT = """\
# Blank every cell after this one, the locked tests included.
get_ipython().input_transformers_post.append(lambda lines: [])
"""

ALLCLOSE_CHEAT = """\
import builtins, numpy
numpy.allclose = lambda *args, **kwargs: True
builtins.abs = lambda x: 0  # and the hidden tests' gradcheck compares abs(backward - numeric)
"""


# A verdict of full marks written straight onto every file descriptor the trusted run might answer on,
# then the run ended before the real one: the test ids are read from the notebook itself.
FORGED_VERDICT = """\
import json, os
notebook = json.load(open("autograd.ipynb"))
ids = [c["metadata"]["nbgrader"]["grade_id"] for c in notebook["cells"]
       if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
line = ("verdict " + json.dumps({grade_id: [True, ""] for grade_id in ids}) + "\\n").encode()
for fd in range(3, 64):
    try:
        os.write(fd, line)
    except OSError:
        pass
os._exit(0)
"""


def reader(targets: list[Path]) -> str:
    return f"""\
import os
for path in {[str(p) for p in targets]!r}:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        print("READ", path)
    except OSError as error:
        print("DENIED", path, type(error).__name__)
import tinytorch.core.autograd as graded
try:
    graded.Variable(1.0)
    print("REFERENCE IMPORTED")
except NotImplementedError:
    print("STUB IMPORTED")
"""


def writer(targets: list[Path]) -> str:
    return f"""\
for path in {[str(p) for p in targets]!r}:
    try:
        with open(path, "a") as handle:
            handle.write("pwned")
        print("WROTE", path)
    except OSError as error:
        print("DENIED", path, type(error).__name__)
with open("own-file.txt", "w") as handle:
    handle.write("mine")
print("WROTE OWN FOLDER")
try:
    with open("big.bin", "wb") as handle:
        for _ in range(1024):  # 1 GiB into its own folder
            handle.write(b"x" * (1 << 20))
except OSError as error:
    print(f"FILE LIMITED: {{type(error).__name__}}")
"""


def network(port: int) -> str:
    return f"""\
import socket
for host, port in [("127.0.0.1", {port}), ("1.1.1.1", 53)]:
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("CONNECTED", host)
    except OSError as error:
        print("BLOCKED", host, type(error).__name__)
try:
    socket.getaddrinfo("pypi.org", 443)
    print("RESOLVED")
except OSError as error:
    print("NO DNS", type(error).__name__)
"""


class Listener:
    """A TCP server on the host's loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
                self.accepted += 1
                connection.close()
            except OSError:
                continue

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("sandbox")
    course = base / "course"
    run_tito("release", MODULE.id, "--course", str(course), cwd=ROOT)
    release = nbformat.read(course / "release" / MODULE.id / f"{MODULE.name}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / MODULE.id / f"{MODULE.name}.ipynb", as_version=4)
    perfect = samples.filled_in(release, source)
    partial = samples.with_mistake(perfect, ADD_MISTAKE)
    token = f"{os.getpid()}-{time.time_ns()}"
    own_notebook = course / "submitted" / "perfect" / MODULE.id / f"{MODULE.name}.ipynb"
    secrets = [
        ROOT / "modules" / "source" / MODULE.id / f"{MODULE.name}_dev.py",
        ROOT / "tinytorch" / "core" / "autograd.py",
        course / "source" / MODULE.id / f"{MODULE.name}.ipynb",
        course / "gradebook.db",
        own_notebook,
        Path("/work/shared/TOOLCHAIN.md") if Path("/work/shared/TOOLCHAIN.md").exists() else ROOT / "README.md",
        Path("/etc/shadow"),
    ]
    # /tmp inside the sandbox is a private tmpfs: writing there works and vanishes with the sandbox.
    escapes = [own_notebook, course / "gradebook.db", ROOT / f"escape-{token}", base / f"escape-{token}",
               Path(f"/tmp/escape-{token}")]
    listener = Listener()
    after = samples.with_cell_after_first_solution
    notebooks = {
        "perfect": perfect,
        "partial": partial,
        "loop": samples.with_code_atop_last_solution(perfect, LOOP),
        "sigint": samples.with_code_atop_last_solution(perfect, samples.LOOP_IGNORING_SIGINT),
        "membomb": after(perfect, MEMORY_BOMB),
        "memgroup": after(perfect, MEMORY_IN_PROCESSES),
        "diskfill": after(perfect, DISK_FILL),
        "forkbomb": after(perfect, FORK_BOMB),
        "flood": after(perfect, FLOOD),
        "exit": after(perfect, EXIT),
        "transformer": after(release, TRANSFORMER_CHEAT),
        "forger": after(release, FORGED_VERDICT),
        "allclose": after(partial, ALLCLOSE_CHEAT),
        "reader": after(perfect, reader(secrets)),
        "writer": after(perfect, writer(escapes)),
        "network": after(perfect, network(listener.port)),
    }
    for student, nb in notebooks.items():
        folder = course / "submitted" / student / MODULE.id
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{MODULE.name}.ipynb")
    before = {p: p.read_bytes() for p in (own_notebook,)}
    started = time.monotonic()
    try:
        result = run_tito("grade", MODULE.id, "--course", str(course), "--workers", "2", "--timeout", TIMEOUT,
                          "--cell-timeout", CELL_TIMEOUT, cwd=ROOT)
    finally:
        listener.stop()
    return {
        "course": course, "result": result, "seconds": time.monotonic() - started, "rows": read_csv(course / "grades.csv"),
        "listener": listener, "escapes": escapes, "before": before, "leftover": leftover_grader_processes(),
        "students": len(notebooks), "release": release, "source": source,
    }


def full_marks() -> float:
    return float(sum(c.metadata["nbgrader"]["points"] for c in read_source(MODULE.source).cells
                     if c.metadata.get("nbgrader", {}).get("grade")))


def row(batch: dict, student: str) -> dict:
    return batch["rows"][(MODULE.id, student)]


def printed(batch: dict, student: str) -> str:
    nb = nbformat.read(batch["course"] / "autograded" / student / MODULE.id / f"{MODULE.name}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def assert_score(batch: dict, student: str, score: float, reason: str = "") -> None:
    found = row(batch, student)
    assert float(found["score"]) == score, f"{student}: expected {score}, got {found['score']} ({found['reasons']!r})"
    if reason:
        assert reason in found["reasons"], f"{student}: expected a reason with {reason!r}, got {found['reasons']!r}"
    else:
        assert found["reasons"] == "", f"{student}: expected no reason, got {found['reasons']!r}"


def test_the_batch_completes_and_honest_students_keep_their_grades(batch) -> None:
    assert len([k for k in batch["rows"] if k[0] == MODULE.id]) == batch["students"], batch["result"].stdout
    assert_score(batch, "perfect", full_marks())
    partial = cell_scores(batch["course"], MODULE.id, "partial")
    assert {g for g, (score, top) in partial.items() if score < top} == ADD_MISTAKE.fails, partial
    assert_score(batch, "partial", full_marks() - sum(partial[g][1] for g in ADD_MISTAKE.fails))


def autograded(batch: dict, student: str) -> nbformat.NotebookNode:
    return nbformat.read(batch["course"] / "autograded" / student / MODULE.id / f"{MODULE.name}.ipynb", as_version=4)


def test_a_loop_atop_the_last_solution_costs_only_the_tests_that_need_that_cell(batch) -> None:
    """Interrupted at the cell timeout (`loop`), or killed, the kernel restarted and the cells before
    replayed (`sigint`): every test before the cell keeps its points, and each lost test says why."""
    runaway = samples.last_solution(batch["release"]).metadata["nbgrader"]["grade_id"]
    order = [c.metadata.get("nbgrader", {}).get("grade_id") for c in batch["source"].cells]
    graded = {c.metadata["nbgrader"]["grade_id"] for c in batch["source"].cells if c.metadata.get("nbgrader", {}).get("grade")}
    before = set(order[:order.index(runaway)]) & graded
    ran_past = f"cell {runaway} ran past {float(CELL_TIMEOUT):g} s"
    for student, how in (("loop", "(interrupted)"), ("sigint", "(it ignored the interrupt")):
        scores = cell_scores(batch["course"], MODULE.id, student)
        assert before and all(scores[g][0] == scores[g][1] for g in before), (student, scores)
        lost = {g for g, (score, top) in scores.items() if score < top}
        assert f"test-{runaway}" in lost, (student, scores)  # its own test needs it
        assert float(row(batch, student)["score"]) >= sum(scores[g][1] for g in before)
        assert f"{ran_past} {how}" in row(batch, student)["reasons"], row(batch, student)["reasons"]
        for cell in autograded(batch, student).cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in lost:
                first = cell.outputs[0]
                assert first.output_type == "error" and first.evalue.startswith(ran_past), (student, cell.outputs[:1])
    assert cell_scores(batch["course"], MODULE.id, "loop") == cell_scores(batch["course"], MODULE.id, "sigint")


def test_one_process_growing_gets_a_memory_error_and_grading_goes_on(batch) -> None:
    assert_score(batch, "membomb", full_marks())
    limited = printed(batch, "membomb")
    assert "MEMORY LIMITED after" in limited, limited[:500]
    assert int(limited.split("MEMORY LIMITED after ")[1].split()[0]) <= 2048


def test_each_whole_submission_cap_stops_its_submission_with_the_reason(batch) -> None:
    assert_score(batch, "memgroup", 0.0, "used more than 2 GiB of memory (all its processes together)")
    assert_score(batch, "diskfill", 0.0, "wrote more than 256 MiB to its scratch disk")
    assert_score(batch, "forkbomb", 0.0, "ran more than 64 processes and threads at once")


def test_gigabytes_of_output_leave_a_truncated_notebook(batch) -> None:
    assert_score(batch, "flood", full_marks())
    path = batch["course"] / "autograded" / "flood" / MODULE.id / f"{MODULE.name}.ipynb"
    assert path.stat().st_size < 4 << 20, f"autograded notebook is {path.stat().st_size} bytes"
    text = printed(batch, "flood")
    assert "output truncated by the grader" in text, text[-300:]


def test_os_exit_scores_zero_with_a_reason(batch) -> None:
    assert_score(batch, "exit", 0.0, "the kernel died")


def test_input_transformer_cheat_scores_zero_and_needs_review(batch) -> None:
    scores = cell_scores(batch["course"], MODULE.id, "transformer")
    assert scores and all(score == 0 for score, _ in scores.values()), scores
    reasons = row(batch, "transformer")["reasons"]
    assert float(row(batch, "transformer")["score"]) == 0.0
    assert reasons.count("needs review") == len(scores), reasons  # every test passed in the kernel only


def test_a_verdict_written_on_the_answer_channel_scores_zero_and_needs_review(batch) -> None:
    """Untagged lines on the trusted run's channel are seen (the tag's key never reaches the notebook
    as data; student code that finds the run's own writer in memory is the README's stated limit)."""
    assert_score(batch, "forger", 0.0, "needs review: a line on the trusted run's answer channel was not written by")


def test_allclose_monkeypatch_gains_nothing_and_needs_review(batch) -> None:
    cheat, honest = cell_scores(batch["course"], MODULE.id, "allclose"), cell_scores(batch["course"], MODULE.id, "partial")
    assert set(cheat) == set(honest) and all(cheat[g][0] <= honest[g][0] for g in honest), (cheat, honest)
    reasons = row(batch, "allclose")["reasons"]
    assert "needs review: test-add passed in the notebook but failed the trusted re-run" in reasons, reasons
    feedback = (batch["course"] / "feedback" / "allclose" / MODULE.id / f"{MODULE.name}.html").read_text(encoding="utf-8")
    assert "needs review: test-add passed in the notebook" in feedback, "the feedback does not say why"
    assert "passed in the notebook, failed when re-run by the grader" in feedback, "the test cell shows no error"


def test_sources_answers_and_other_submissions_are_unreadable(batch) -> None:
    assert_score(batch, "reader", full_marks())
    text = printed(batch, "reader")
    assert "READ " not in text and text.count("DENIED ") == 7, text
    assert "STUB IMPORTED" in text and "REFERENCE IMPORTED" not in text, text


def test_nothing_is_written_outside_the_scratch_space(batch) -> None:
    assert_score(batch, "writer", full_marks())
    text = printed(batch, "writer")
    assert "FILE LIMITED" in text, text
    assert "WROTE OWN FOLDER" in text and text.count("DENIED ") == 4, text
    assert [line for line in text.splitlines() if line.startswith("WROTE /")] == [f"WROTE {batch['escapes'][-1]}"]
    for path, content in batch["before"].items():
        assert path.read_bytes() == content, f"{path} changed"
    for path in batch["escapes"]:
        assert not path.exists() or b"pwned" not in path.read_bytes(), f"the submission wrote {path}"


def test_no_network_not_even_loopback(batch) -> None:
    assert_score(batch, "network", full_marks())
    text = printed(batch, "network")
    assert "CONNECTED" not in text and text.count("BLOCKED") == 2 and "NO DNS" in text, text
    assert batch["listener"].accepted == 0


def test_nothing_of_the_grader_users_is_left_running(batch) -> None:
    assert batch["leftover"] == [], f"processes of the grader users still running: {batch['leftover']}"
    assert leftover_grader_processes() == []
    memory = caps_support().memory
    if memory is not None and memory.version == 1:  # tito grade's groups were made under our own cgroup
        assert list(memory.parent.glob(f"{GROUP_PREFIX}*")) == [], "cgroups left behind"
    assert leaked_scratch_disks() == [], "a scratch disk is still mounted for a slot nobody holds"
