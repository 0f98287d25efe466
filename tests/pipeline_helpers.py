"""Helpers for the course-pipeline tests: a richer module made inside a project copy, and readers
for what `tito grade` leaves behind."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat

# A second module with two solution cells and two graded tests (with hidden tests), which imports
# the earlier module's export: what the placeholder 01_tensor alone cannot exercise.
OPS_SOURCE = '''\
# %% [markdown]
# # Module 02: Ops

# %% nbgrader={"grade": false, "grade_id": "ops-imports", "locked": false, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.ops
#| export
from tinytorch.core.tensor import Tensor

# %% nbgrader={"grade": false, "grade_id": "ops-add", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def add(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise sum."""
    ### BEGIN SOLUTION
    return Tensor(a.data + b.data)
    ### END SOLUTION

# %% nbgrader={"grade": false, "grade_id": "ops-mul", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def mul(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise product."""
    ### BEGIN SOLUTION
    product_of_both = a.data * b.data
    return Tensor(product_of_both)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-add", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert add(Tensor([1]), Tensor([2])).data.tolist() == [3], "add([1], [2]) should be [3]"
### BEGIN HIDDEN TESTS
assert add(Tensor([1, 2]), Tensor([3, 4])).data.tolist() == [4, 6], "hidden_add_check_line"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test-mul", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
assert mul(Tensor([2]), Tensor([3])).data.tolist() == [6], "mul([2], [3]) should be [6]"
### BEGIN HIDDEN TESTS
assert mul(Tensor([2, 5]), Tensor([3, 0])).data.tolist() == [6, 0], "hidden_mul_check_line"
### END HIDDEN TESTS
'''


def add_ops_module(project: Path) -> Path:
    """Add 02_ops to a project copy and export it, as an author would (later modules' kits need it)."""
    from conftest import run_tito

    folder = project / "modules" / "source" / "02_ops"
    folder.mkdir()
    source = folder / "ops_dev.py"
    source.write_text(OPS_SOURCE, encoding="utf-8")
    run_tito("export", cwd=project)
    return source


def submit(course: Path, student: str, module_id: str, notebook: Path | nbformat.NotebookNode, name: str) -> Path:
    folder = course / "submitted" / student / module_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.ipynb"
    if isinstance(notebook, Path):
        shutil.copy(notebook, target)
    else:
        nbformat.write(notebook, target)
    return target


def read_csv(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}


def cell_scores(course: Path, module_id: str, student: str, db_url: str | None = None) -> dict[str, tuple]:
    """grade_id -> (auto_score, max_score) from nbgrader's gradebook."""
    from tito.course.layout import Course
    from tito.grading.gradebook import gradebook_rows

    rows = gradebook_rows(Course(course, db_url), module_id)
    return {row[2]: (row[3], row[5]) for row in rows if row[0] == student}


SOLUTION, HIDDEN = "### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"


def block_lines(nb: nbformat.NotebookNode, kinds: tuple[str, ...] = (SOLUTION, HIDDEN)) -> set[str]:
    """Lines inside the blocks opened by `kinds` (solution, hidden tests) that appear nowhere outside
    any solution or hidden-test block of `nb`."""
    inside, outside = set(), set()
    for cell in nb.cells:
        block = None
        for line in cell.source.splitlines():
            text = line.strip()
            if text in (SOLUTION, HIDDEN):
                block = text
            elif text in ("### END SOLUTION", "### END HIDDEN TESTS"):
                block = None
            elif text:
                if block in kinds:
                    inside.add(text)
                elif block is None:
                    outside.add(text)
    return inside - outside


def solution_lines(nb: nbformat.NotebookNode) -> set[str]:
    """Lines inside solution or hidden-test blocks that appear nowhere outside them."""
    return block_lines(nb)


def hidden_test_lines(nb: nbformat.NotebookNode) -> set[str]:
    return block_lines(nb, (HIDDEN,))


def answer_lines(nb: nbformat.NotebookNode) -> set[str]:
    return block_lines(nb, (SOLUTION,))


def free_slots() -> Iterator[int]:
    """Grader slot numbers no grading run holds right now (each held while it is yielded): whatever
    is left of such a slot (processes of its user, its scratch disk) has leaked. Slots held by a
    run (other work on this shared machine) are skipped."""
    import fcntl

    from tito.sandbox.sandbox import MAX_SLOTS, SLOT_DIR

    for number in range(MAX_SLOTS):
        lock_path = SLOT_DIR / f"slot-{number}.lock"
        if not lock_path.exists():
            continue
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield number


def leftover_grader_processes() -> list[int]:
    """Processes of the grader users (tinytorch-grader-N) of slots no grading run holds."""
    import pwd

    from tito.sandbox.sandbox import USER_PREFIX, processes_of

    found = []
    for number in free_slots():
        try:
            found += processes_of(pwd.getpwnam(f"{USER_PREFIX}{number}").pw_uid)
        except KeyError:
            continue
    return found


def leaked_scratch_disks() -> list[str]:
    """Scratch disks (a tmpfs per slot) still mounted for a slot no grading run holds."""
    from tito.sandbox.caps import mounts
    from tito.sandbox.sandbox import SLOT_DIR

    mounted = {point for point, _, kind, _ in mounts() if kind == "tmpfs"}
    return [f"{SLOT_DIR}/scratch-{n}" for n in free_slots() if f"{SLOT_DIR}/scratch-{n}" in mounted]
