"""Feedback that teaches: a wrong derivative is reported as `op: d/dinput should be X, got Y`,
on one line, in `tito check` and at the top of the HTML feedback; bare asserts show their line.
Above it all, `Start here:` names the one function most likely at fault (tito/grading/start_here.py),
with the catalogued mistake's hint, and the feedback draws the graph with the wrong node marked."""

from __future__ import annotations

import base64
import re
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from nbclient import NotebookClient

from tito.authoring.mistakes import load_mistakes
from tito.grading.execute import read_kit
from tito.grading.explain import failure_message
from tito.grading.start_here import notebook_hints
from tito.notebook import read_source
from tito.project import Module
from tito.student.diagnose import diagnose_notebook, diagnosis_task, run_diagnosis

sys.path.insert(0, str(ROOT / "examples"))
from sample_submissions import Mistake, filled_in, with_mistake  # noqa: E402

MODULE = Module(ROOT / "modules" / "source" / "07_autograd")
CATALOGUE = load_mistakes(MODULE)
SUBTRACT_HINT = next(m.hint for m in CATALOGUE if m.name == "subtract with the wrong sign for b")

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
    first = result.stdout.splitlines()[0]  # the output begins with the one function to look at
    assert first.startswith("Start here: `subtract` -- d/db of subtract at a=5, b=3: should be -1, got 1 ("), first
    assert first.endswith(f"Hint: {SUBTRACT_HINT}"), first


def test_the_html_feedback_lists_each_failed_test_with_its_message(course: Path) -> None:
    run_tito("grade", "07_autograd", "--course", str(course), "--workers", "1", cwd=ROOT)
    html = (course / "feedback" / "alice" / "07_autograd" / "autograd.html").read_text(encoding="utf-8")
    summary = html[html.index("Tests that failed"):]
    summary = summary[: summary.index("</ul>")]
    assert "test-subtract" in summary and "subtract: d/db should be -1, got 1.0" in summary, summary
    assert "test-chain-rule" in summary and "d/dy should be -4.0, got 6.0" in summary, summary
    assert "test-add" not in summary, f"only failed tests are listed:\n{summary}"
    # The page begins with Start here, its hint, and the probed expression's graph, its wrong node marked.
    body = html[html.index("<body"):]
    start = body.index("<strong>Start here:</strong>")
    assert start < body.index("Tests that failed") < body.index("Module 07"), "Start here comes first"
    assert "d/db of subtract at a=5, b=3: should be -1, got 1" in body[start:start + 1000]
    assert SUBTRACT_HINT.replace("'", "&#39;") in body or SUBTRACT_HINT in body
    picture = re.search(r'<img alt="graph of the probed expression, subtract marked in red" src="data:image/svg\+xml;base64,([^"]+)"', body)
    assert picture, body[start:start + 3000]
    svg = base64.b64decode(picture.group(1)).decode("utf-8")
    marked = svg[svg.index(">subtract<") - 600: svg.index(">subtract<") + 600]  # the operation's node
    assert 'stroke="red"' in marked and "expected &#45;1 (central difference)" in svg and "got 1 (yours)" in svg, svg
    edges = dict(re.findall(r'<g id="edge\d+" class="edge">\s*<title>(.*?)</title>(.*?)</g>', svg, re.DOTALL))
    red = sorted(title for title, drawing in edges.items() if 'stroke="red"' in drawing)
    assert red == ["n1&#45;&gt;n2"], f"only the edge from b (n1) into subtract (n2) is red, got {red}"


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


def with_source(release: nbformat.NotebookNode, source_text: str) -> nbformat.NotebookNode:
    """The release filled in from `source_text` (a module source, here with a mistake made)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / MODULE.source.name
        source.write_text(source_text, encoding="utf-8")
        return filled_in(release, read_source(source))


def test_start_here_names_the_function_of_every_catalogued_mistake(course: Path) -> None:
    """For each mistake in the module's catalogue, the Start-here line as `tito check` computes it
    (the same re-run and composition, without the kernel run before it) names the function that
    holds the mistake, with that mistake's hint. Two at a time, each in a warm-started process."""
    release = nbformat.read(course / "release" / "07_autograd" / "autograd.ipynb", as_version=4)
    kit = read_kit(course / "kit" / "07_autograd" / "tinytorch")
    text = MODULE.source.read_text(encoding="utf-8")
    # Prepared here, one at a time: CPython 3.11.7's ast.parse is not safe in two threads at once.
    notebooks = [with_source(release, m.apply(text)) for m in CATALOGUE]
    tasks = [(diagnosis_task(nb, timeout=120), notebook_hints(nb)) for nb in notebooks]
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(lambda task: run_diagnosis(task[0], kit, 120, task[1]), tasks))
    wrong = [f"{m.name}: expected `{m.culprit}`, got {s.line() if s else None}" for m, s in zip(CATALOGUE, found, strict=True)
             if s is None or s.culprit != m.culprit]
    print(f"\nStart here names the right function for {len(CATALOGUE) - len(wrong)} of {len(CATALOGUE)} catalogued mistakes")
    assert not wrong, "\n".join(wrong)
    unhinted = [f"{m.name}: {s.line()}" for m, s in zip(CATALOGUE, found, strict=True) if s.hint != m.hint]
    assert not unhinted, "\n".join(unhinted)
    hang = next(s for m, s in zip(CATALOGUE, found, strict=True) if m.name == "naive recursive backward")
    assert "(cell topological-demo never finished: it was stuck in backpropagate)" in hang.line(), hang.line()
    for mistake, start in zip(CATALOGUE, found, strict=True):
        line = start.line()
        assert line.startswith(f"Start here: `{mistake.culprit}` -- ") and line.isascii(), line
        if mistake.culprit not in ("Variable.__init__", "topological_order", "backpropagate", "unbroadcast", "spread_back"):
            assert start.graph or "overflows" in line or "raised" in line, f"{mistake.name}: no graph for a gradient mistake: {line}"


def test_start_here_names_the_first_stub_and_says_nothing_when_all_pass(course: Path) -> None:
    release = nbformat.read(course / "release" / "07_autograd" / "autograd.ipynb", as_version=4)
    source = nbformat.read(course / "source" / "07_autograd" / "autograd.ipynb", as_version=4)
    kit = read_kit(course / "kit" / "07_autograd" / "tinytorch")
    untouched = diagnose_notebook(release, kit, timeout=120)
    assert untouched.line().startswith("Start here: `Variable.__init__` (cell variable-class) is not written yet ("), untouched.line()
    half_done = filled_in(release, source)
    for cell in half_done.cells:  # Variable written, every operation still a stub
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.metadata["nbgrader"]["grade_id"] != "variable-class":
            cell.source = next(c.source for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell.metadata["nbgrader"]["grade_id"])
    assert diagnose_notebook(half_done, kit, timeout=120).line().startswith("Start here: `add` (cell add) is not written yet")
    assert diagnose_notebook(filled_in(release, source), kit, timeout=120) is None, "everything passes: no Start-here line"


GRADIENT_FORMULA = re.compile(r"\b(dL|dout|dloss)/d\w+ = ")  # "dL/db = -g * a / b**2": the answer itself


def test_todos_state_the_contract_and_each_derivation_waits_behind_a_click() -> None:
    """Module 07: no TODO (nor the text just above it) hands out a local gradient; below every
    solution cell a collapsed Hint gives the idea, and a second click the formula."""
    nb = read_source(MODULE.source)
    solutions = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(solutions) >= 10, "module 07 has a solution cell per function to write"
    for index in solutions:
        cell, before, after = nb.cells[index], nb.cells[index - 1], nb.cells[index + 1]
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        given = cell.source.split("### BEGIN SOLUTION")[0]
        for text, where in ((given, "its TODO"), (before.source if before.cell_type == "markdown" else "", "the text above it")):
            assert not GRADIENT_FORMULA.search(text), f"{grade_id}: {where} states a local gradient: {GRADIENT_FORMULA.search(text)[0]}"
        assert after.cell_type == "markdown" and after.source.startswith("<details><summary>Hint</summary>"), (
            f"{grade_id}: the cell below should be a collapsed Hint, got {after.source[:60]!r}")
        idea, formula = after.source.split("<details><summary>Step 2: the formula</summary>")
        assert "step 1: the idea" in idea and formula.count("</details>") == 2, f"{grade_id}: the hint goes idea, then formula"


def test_start_here_treats_the_evidence_as_untrusted_text() -> None:
    """The evidence comes from a process that ran student code: wrong types are ignored, and what
    is shown is escaped (the HTML, and the DOT labels of the graph)."""
    from tito.grading.start_here import graph_dot, start_here, start_here_cell

    assert start_here({"tests": {"t": {"used": None}}, "functions": "x"}, {"t": (False, "")}) is None
    assert start_here({"tests": [], "probes": {}, "timeouts": 3}, {"t": (False, "")}) is None
    hostile = {
        "functions": [{"name": "f", "cell": "c<b>", "stub": False}, {"name": "x; import os", "cell": "c", "stub": True}],
        "tests": {"t": {"used": ["f", 3], "raised_in": ["f"], "error": None}},
        "probes": [{"name": "f", "ok": False, "error": "ProbeFailure", "message": 'f is <script>alert(1)</script> "\\\\n',
                    "graph": {"nodes": [{"id": "a", "kind": "operation", "lines": ['x"];evil[label="', "\\\\"], "marked": True}],
                              "edges": [{"from": "a", "to": "nowhere"}]}}],
    }
    start = start_here(hostile, {"t": (False, "boom")})
    assert start.culprit == "f" and start.line().isascii(), "an invalid name is never named, nor a stub of it"
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    page = markdown2html_mistune(start_here_cell(start).source)  # as the feedback page renders it
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, page
    dot = graph_dot(start.graph)
    assert '"];evil' not in dot and "\\\\\\\\" not in dot and dot.count('"') == 4, dot  # the label is one quoted string
