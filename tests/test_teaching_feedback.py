"""Feedback that teaches: a wrong derivative is reported as `op: d/dinput should be X, got Y`,
on one line, in `tito check` and at the top of the HTML feedback; bare asserts show their line."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from nbclient import NotebookClient

from tito.grading.explain import failure_message

sys.path.insert(0, str(ROOT / "examples"))
from sample_submissions import Mistake, filled_in, with_mistake  # noqa: E402

WRONG_SIGN = Mistake(
    cell="subtract",
    old="return a - b, (lambda g: g, lambda g: -g)",
    new="return a - b, (lambda g: g, lambda g: g)",
    fails=frozenset({"test-subtract", "test-chain-rule"}),
    why="d(a - b)/db is -1, not 1",
)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A 07_autograd release with one submission: every answer right except subtract's sign."""
    course = tmp_path_factory.mktemp("teach") / "course"
    run_tito("release", "07_autograd", "--reveal", "01_tensor", "--course", str(course), cwd=ROOT)  # Tensor works
    release = nbformat.read(course / "release" / "07_autograd" / "autograd.ipynb", as_version=4)
    source = nbformat.read(course / "source" / "07_autograd" / "autograd.ipynb", as_version=4)
    wrong = with_mistake(filled_in(release, source), WRONG_SIGN)
    nbformat.write(wrong, course / "kit" / "07_autograd" / "wrong_sign.ipynb")
    (course / "submitted" / "alice" / "07_autograd").mkdir(parents=True)
    shutil.copy(course / "kit" / "07_autograd" / "wrong_sign.ipynb", course / "submitted" / "alice" / "07_autograd" / "autograd.ipynb")
    return course


def test_tito_check_names_the_op_and_the_derivative(course: Path) -> None:
    result = run_tito("check", "wrong_sign.ipynb", cwd=course / "kit" / "07_autograd", check=False)
    assert result.returncode == 1, result.stdout
    expected = {
        "test-subtract": "AssertionError: subtract: d/db should be -1, got 1.0",
        "test-chain-rule": "AssertionError: (x + y) * (x - y): d/dy should be -4.0, got 6.0",
    }
    for grade_id, message in expected.items():
        assert re.search(rf"^  FAIL  {re.escape(grade_id)} +0/\d+  {re.escape(message)}$", result.stdout, re.MULTILINE), (
            f"expected a FAIL line for {grade_id} ending {message!r}:\n{result.stdout}"
        )
    assert re.search(r"^  PASS  test-add +5/5$", result.stdout, re.MULTILINE), result.stdout
    assert "\x1b[" not in result.stdout and result.stdout.isascii(), "tito check output is plain ASCII"


def test_the_html_feedback_lists_each_failed_test_with_its_message(course: Path) -> None:
    run_tito("grade", "07_autograd", "--course", str(course), "--workers", "1", cwd=ROOT)
    html = (course / "feedback" / "alice" / "07_autograd" / "autograd.html").read_text(encoding="utf-8")
    summary = html[html.index("Tests that failed"):]
    summary = summary[: summary.index("</ul>")]
    assert "test-subtract" in summary and "subtract: d/db should be -1, got 1.0" in summary, summary
    assert "test-chain-rule" in summary and "d/dy should be -4.0, got 6.0" in summary, summary
    assert "test-add" not in summary, f"only failed tests are listed:\n{summary}"


def test_failure_message_folds_arrays_strips_colours_and_shows_a_bare_asserts_line() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in (
        "import numpy as np\nassert False, f'matmul: d/da should be {np.ones((2, 2))}, got {np.zeros((2, 2))}'",
        "def check():\n    x = 1\n    assert x == 2\ncheck()",
        "raise NotImplementedError()",
        "def add(a, b):\n    return a + b\nadd(np.ones(2), np.ones(3))",
    )])
    NotebookClient(nb, kernel_name="python3", timeout=60, allow_errors=True).execute()
    messages = [failure_message(cell) for cell in nb.cells]
    assert messages == [
        "AssertionError: matmul: d/da should be [[1. 1.] [1. 1.]], got [[0. 0.] [0. 0.]]",
        "AssertionError at: assert x == 2",
        "NotImplementedError",
        "ValueError: operands could not be broadcast together with shapes (2,) (3,) (at: return a + b)",
    ], messages
