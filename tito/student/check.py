"""`tito check NOTEBOOK`: a student runs THEIR notebook in a fresh kernel and sees each graded test.

Same execution as grading (tito/grading/execute.py: a fresh kernel in a scratch folder, the kit's
`tinytorch`, a wall-clock limit) and the same scoring rule as nbgrader (`determine_grade`), so what
a student sees is what the grader will compute -- except hidden tests, which only the grader has.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from tito.grading.execute import execute_submission, read_kit
from tito.grading.start_here import explain_failure
from tito.grading.student_view import student_view
from tito.lifetime import run_stoppable
from tito.project import TitoError
from tito.student.diagnose import diagnose_notebook
from tito.student.export import find_kit_package


def check_notebook(notebook: Path, timeout: float, cell_timeout: float = 60.0) -> int:
    from tito.grading.rules import compute_checksum, determine_grade, is_grade, is_locked

    if not notebook.is_file():
        raise TitoError(f"no such notebook: {notebook}")
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as error:
        raise TitoError(f"{notebook} is not a valid notebook: {error}") from error
    kit = read_kit(find_kit_package(notebook))  # no package of the student's: refuse, never the reference
    for cell in nb.cells:  # start clean, as grading does
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    result = run_stoppable(  # a worker thread: a stop signal then kills the kernel at once
        execute_submission,
        {"student": "check", "notebooks": {notebook.stem: nbformat.writes(nb)}, "kit": kit, "timeout": timeout,
         "cell_timeout": cell_timeout, "sandbox": False}
    )
    outcome = result["notebooks"][notebook.stem]
    ran = f"tito check {notebook.name}: ran in a fresh kernel in {result['seconds']:.1f}s"
    if outcome["reason"]:
        start = diagnose_notebook(nb, kit, timeout)  # a hang or a crash: where it was stuck, if it can tell
        if start is not None:
            print(start.line())
        print(ran)
        print(f"could not finish: {outcome['reason']}")
        print("total: 0 points (nothing is graded when the notebook does not run to the end)")
        return 1
    for note in outcome.get("notes", []):  # a cell that ran past --cell-timeout, as grading reports it
        print(f"note: {note}")
    executed = student_view(nbformat.reads(outcome["notebook"], as_version=4))  # all it prints is for the student
    graded = [c for c in executed.cells if c.cell_type == "code" and is_grade(c)]
    if not graded:
        print(ran)
        print("no graded test cells in this notebook")
        return 1
    width = max(len(c.metadata.nbgrader["grade_id"]) for c in graded)
    total = earned = 0.0
    failures = 0
    report = []
    for cell in graded:
        grade_id = cell.metadata.nbgrader["grade_id"]
        score, max_score = determine_grade(cell)
        score = score or 0.0
        total += max_score
        earned += score
        passed = score >= max_score
        failures += not passed
        line = f"  {'PASS' if passed else 'FAIL'}  {grade_id:<{width}}  {score:g}/{max_score:g}"
        if not passed:
            line += f"  {explain_failure(cell, executed)}"  # one line: which op and derivative, expected vs got
        checksum = cell.metadata.nbgrader.get("checksum")
        if is_locked(cell) and checksum and compute_checksum(cell) != checksum:
            line += "  (this test cell was edited; grading restores the original)"
        report.append(line.rstrip())
    start = diagnose_notebook(nb, kit, timeout) if failures else None
    if start is not None:  # first: the one function to look at
        print(start.line())
    print(ran)
    print("\n".join(report))
    print(f"total: {earned:g}/{total:g} points, {failures} of {len(graded)} tests failed")
    print("(hidden tests run only at grading time: passing here is necessary, not sufficient)")
    return 1 if failures else 0
