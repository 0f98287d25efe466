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
from tito.grading.start_here import notebook_hints, start_here
from tito.notebook import read_source
from tito.project import Module, discover_modules
from tito.sandbox.diagnosis import student_functions
from tito.student.diagnose import diagnose_notebook, diagnosis_task, rerun

sys.path.insert(0, str(ROOT / "examples"))
from sample_submissions import MISTAKES as SAMPLE_MISTAKES  # noqa: E402
from sample_submissions import Mistake, filled_in, with_mistake  # noqa: E402

MODULE = Module(ROOT / "modules" / "source" / "07_autograd")
CATALOGUE = load_mistakes(MODULE)
MODULES = discover_modules(ROOT)
CATALOGUED = [module for module in MODULES if load_mistakes(module)]
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
    """Every module released (each kit holds the earlier modules' reference: Tensor and Variable work),
    with one 07_autograd submission: every answer right except subtract's sign."""
    course = tmp_path_factory.mktemp("teach") / "course"
    reveal = [arg for module in MODULES[:-1] for arg in ("--reveal", module.id)]  # a module's own kit keeps its stubs
    run_tito("release", *reveal, "--course", str(course), cwd=ROOT)
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


def with_source(release: nbformat.NotebookNode, source_text: str, module: Module = MODULE) -> nbformat.NotebookNode:
    """The release filled in from `source_text` (a module source, here with a mistake made)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / module.source.name
        source.write_text(source_text, encoding="utf-8")
        return filled_in(release, read_source(source))


def as_graded(source: nbformat.NotebookNode, student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What grading re-runs: the instructor's notebook (hidden tests in) with the student's solution cells,
    as nbgrader's autograde puts them together."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in student.cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(source)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    return nb


def released(course: Path, module: Module) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, dict[str, str]]:
    """The module's release and source notebooks in the course, and its student kit's package."""
    name = module.source.name.removesuffix("_dev.py") + ".ipynb"
    return (nbformat.read(course / "release" / module.id / name, as_version=4),
            nbformat.read(course / "source" / module.id / name, as_version=4),
            read_kit(course / "kit" / module.id / "tinytorch"))


def rerun_all(tasks: list[tuple[dict, dict[str, str]]]) -> list[tuple[dict, dict | None]]:
    """The verifier's re-runs, two at a time, each in a warm-started process."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda task: rerun(task[0], task[1], 120), tasks))


def test_start_here_names_the_function_of_every_catalogued_mistake(course: Path) -> None:
    """For each mistake in every module's catalogue, the Start-here line as `tito check` computes it
    (the same re-run and composition, without the kernel run before it) names the function that
    holds the mistake, with that mistake's hint. A mistake that only hidden tests catch passes every
    test `tito check` has (so it gets no line there), and the line grading computes (hidden tests
    in, the source notebook's hints) names it. Two at a time, each in a warm-started process."""
    cases, tasks = [], []
    for module in CATALOGUED:
        release, source, kit = released(course, module)
        text = module.source.read_text(encoding="utf-8")
        for mistake in load_mistakes(module):
            # Prepared here, one at a time: CPython 3.11.7's ast.parse is not safe in two threads at once.
            nb = with_source(release, mistake.apply(text), module)
            cases.append((module, mistake, nb, source, kit))
            tasks.append((diagnosis_task(nb, timeout=120), kit))
    checked = rerun_all(tasks)
    found = [start_here(diagnosis, results, notebook_hints(nb)) for (*_, nb, _, _), (results, diagnosis) in zip(cases, checked, strict=True)]
    hidden_only = [i for i, (results, _) in enumerate(checked) if results[cases[i][1].caught_by][0]]
    for i in hidden_only:  # tito check sees no failure at all: no line
        module, mistake, *_ = cases[i]
        assert all(passed for passed, _ in checked[i][0].values()) and found[i] is None, f"{mistake.name}: {checked[i][0]}"
    graded_tasks = []
    for i in hidden_only:
        _, _, nb, source, kit = cases[i]
        graded = as_graded(source, nb)
        graded_tasks.append((diagnosis_task(graded, timeout=120), kit))
    for i, (results, diagnosis) in zip(hidden_only, rerun_all(graded_tasks), strict=True):
        mistake, source = cases[i][1], cases[i][3]
        assert not results[mistake.caught_by][0], f"{mistake.name}: {mistake.caught_by} passed at grading too"
        found[i] = start_here(diagnosis, results, notebook_hints(source))  # grading reads the source notebook's hints

    wrong = [f"{module.id}: {m.name}: expected `{m.culprit}`, got {s.line() if s else None}"
             for (module, m, *_), s in zip(cases, found, strict=True) if s is None or s.culprit != m.culprit]
    counts = ", ".join(f"{module.id} {sum(1 for (mod, m, *_), s in zip(cases, found, strict=True) if mod == module and s and s.culprit == m.culprit)}"
                       f" of {len(load_mistakes(module))}" for module in CATALOGUED)
    print(f"\nStart here names the right function for {len(cases) - len(wrong)} of {len(cases)} catalogued mistakes ({counts}); "
          f"{len(hidden_only)} caught only by hidden tests, named by grading's line: {[cases[i][1].name for i in hidden_only]}")
    assert not wrong, "\n".join(wrong)
    unhinted = [f"{m.name}: {s.line()}" for (_, m, *_), s in zip(cases, found, strict=True) if s.hint != m.hint]
    assert not unhinted, "\n".join(unhinted)
    for (module, mistake, *_), start in zip(cases, found, strict=True):
        line = start.line()
        assert line.startswith(f"Start here: `{mistake.culprit}` -- ") and line.isascii(), line
        if mistake.name == "naive recursive backward":
            assert "(cell topological-demo never finished: it was stuck in backpropagate)" in line, line
        if module == MODULE and mistake.culprit not in ("Variable.__init__", "topological_order", "backpropagate", "unbroadcast", "spread_back"):
            assert start.graph or "overflows" in line or "raised" in line, f"{mistake.name}: no graph for a gradient mistake: {line}"


def test_start_here_names_the_first_stub_untouched_and_half_done(course: Path) -> None:
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


def test_start_here_in_every_module_for_stubs_a_correct_notebook_and_the_sample_mistake(course: Path) -> None:
    """Every module, with probes or without (01 has none): the untouched release names a stub of its
    first solution cell, and a fully correct notebook gets no line, in `tito check` and at grading. A
    module's sample mistake (examples/sample_submissions.py) is named by the function that holds it."""
    tasks, expected = [], []
    for module in MODULES:
        release, source, kit = released(course, module)
        first_cell = next(c.metadata["nbgrader"]["grade_id"] for c in release.cells if c.metadata.get("nbgrader", {}).get("solution"))
        correct = filled_in(release, source)
        runs = [("untouched", release, f"(cell {first_cell}) is not written yet"), ("correct", correct, None),
                ("correct, graded", as_graded(source, correct), None)]
        sample = SAMPLE_MISTAKES.get(module.id)
        if sample is not None:
            wrong = with_mistake(correct, sample)
            cell = next(c for c in wrong.cells if c.metadata.get("nbgrader", {}).get("grade_id") == sample.cell)
            line = cell.source[: cell.source.index(sample.new)].count("\n") + 1
            (holder,) = [f["name"] for f in student_functions([{"source": cell.source, "solution": True}])
                         if f["lines"][0] <= line <= f["lines"][1]]
            runs.append(("sample mistake, graded", as_graded(source, wrong), f"`{holder}` -- "))
        for what, nb, says in runs:
            tasks.append((diagnosis_task(nb, timeout=120), kit))
            expected.append((module, what, says, notebook_hints(source if "graded" in what else nb)))
    for (module, what, says, hints), (results, diagnosis) in zip(expected, rerun_all(tasks), strict=True):
        start = start_here(diagnosis, results, hints)
        if says is None:
            assert start is None and all(passed for passed, _ in results.values()), f"{module.id}, {what}: {start and start.line()}"
        else:
            assert start is not None and says in start.line(), f"{module.id}, {what}: expected {says!r} in {start and start.line()}"
    checked = {(module.id, what) for module, what, *_ in expected}
    assert ("01_tensor", "sample mistake, graded") in checked and ("08_optimizers", "untouched") in checked, checked


def test_a_stub_is_a_bare_not_implemented_error() -> None:
    """nbgrader's stub raises NotImplementedError() bare; a method that raises it with a message on
    purpose (08's abstract `Optimizer.step`) is given code, never named as unwritten."""
    cell = {"solution": True, "source": (
        "class Optimizer:\n    def step(self):\n        raise NotImplementedError(f'{type(self).__name__} does not define step()')\n"
        "    def zero_grad(self):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n"
        "def later():\n    raise NotImplementedError\n")}
    assert [f["name"] for f in student_functions([cell]) if f["stub"]] == ["Optimizer.zero_grad", "later"]


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
        "tests": {"t": {"used": ["f", 3], "direct": "f", "raised_in": ["f"], "error": None}},
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
