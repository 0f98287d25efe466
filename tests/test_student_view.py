"""`student_view`: a graded notebook as a student may see it, on a notebook run in a real kernel.

Three failures, one of each kind: a hidden bare `assert` (no message of its own: a neutral one),
a visible test whose traceback would show the hidden lines right after it (they go, its message
stays), and a hidden call whose helper raises the test's own message (kept, with which hidden test).
"""

from __future__ import annotations

import copy
import json

import nbformat
from nbclient import NotebookClient

from tito.grading.explain import failure_message
from tito.grading.student_view import hidden_code_lines, student_view

HELPER = 'def check(x):\n    assert x > 0, f"check({x}) failed"'
BARE = ('assert 1 + 1 == 2, "visible ok"\n### BEGIN HIDDEN TESTS\nsecret_value_one = 41\n'
        "assert secret_value_one + 1 == 43\n### END HIDDEN TESTS")
VISIBLE = ('visible_total = 1\nassert visible_total == 2, "visible message"\n### BEGIN HIDDEN TESTS\n'
           "hidden_line_right_after = visible_total * 3\n### END HIDDEN TESTS")
HELPED = "### BEGIN HIDDEN TESTS\ncheck(-5)  # the hidden input\n### END HIDDEN TESTS"


def graded(source: str, grade_id: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": 2, "solution": False}
    return cell


def test_the_student_view_keeps_names_points_and_messages_and_no_hidden_code() -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(HELPER), graded(BARE, "test-bare"), graded(VISIBLE, "test-visible"),
        graded(HELPED, "test-helped"), nbformat.v4.new_markdown_cell("Grading notes: secret_value_one = 41 failed"),
    ])
    NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True).execute()
    before = copy.deepcopy(nb)
    secrets = hidden_code_lines(nb)
    assert {"secret_value_one = 41", "hidden_line_right_after = visible_total * 3", "check(-5)  # the hidden input"} <= secrets
    raw = json.dumps(nb)
    assert "hidden_line_right_after" in raw, "the kernel's traceback quotes the hidden line after the visible failure"

    view = student_view(nb)
    assert nb == before, "the instructor's notebook is not changed"
    text = json.dumps(view)
    assert "HIDDEN TESTS" not in text
    for secret in ("secret_value_one", "hidden_line_right_after", "the hidden input"):
        assert secret not in text, f"{secret!r} reached the student's view"
    messages = {c.metadata["nbgrader"]["grade_id"]: failure_message(c) for c in view.cells if "nbgrader" in c.metadata}
    assert messages == {
        "test-bare": "AssertionError: hidden test 2 of test-bare failed",
        "test-visible": "AssertionError: visible message",
        "test-helped": "AssertionError: check(-5) failed (hidden test 1 of test-helped)",
    }, messages
    assert view.cells[1].source == 'assert 1 + 1 == 2, "visible ok"'
    assert [c.metadata for c in view.cells] == [c.metadata for c in nb.cells], "names and points are kept"
    helped = "\n".join(view.cells[3].outputs[0].traceback)
    assert "hidden test 1 of test-helped (its code is not shown)" in helped and "check(" in helped  # the helper frame stays
    assert view.cells[4].source == "[a line of a hidden test: not shown]"
