"""`tito check NOTEBOOK`: runs the student's own notebook and reports each graded test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from pipeline_helpers import add_ops_module


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    """The 02_ops student kit (two graded tests) of a project copy."""
    import shutil

    from conftest import ROOT

    project = tmp_path_factory.mktemp("check") / "project"
    shutil.copytree(ROOT / "modules" / "source", project / "modules" / "source", ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    shutil.copytree(ROOT / "tinytorch", project / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "settings.ini", project / "settings.ini")
    add_ops_module(project)
    # 01's reference is revealed, so the kit's Tensor works and only ops is the student's to write.
    run_tito("release", "ops", "--reveal", "tensor", "--course", str(project / "course"), cwd=project)
    return project / "course" / "kit" / "02_ops"


def answered(kit: Path, add_body: str, mul_body: str, name: str) -> Path:
    nb = nbformat.read(kit / "ops.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            body = add_body if "def add" in cell.source else mul_body
            cell.source = cell.source.split("    # YOUR CODE HERE")[0] + body
    path = kit / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_check_on_the_untouched_release_fails_every_test(kit: Path) -> None:
    result = run_tito("check", "ops.ipynb", cwd=kit, check=False)
    assert result.returncode == 1
    # Stubs by name, and the first stub first (this module has no probes: the notebook order decides).
    assert result.stdout.startswith("Start here: `add` (cell ops-add) is not written yet"), result.stdout
    assert "FAIL  test-add  0/2  `add` (cell ops-add) is not written yet" in result.stdout, result.stdout
    assert "FAIL  test-mul  0/3  `mul` (cell ops-mul) is not written yet" in result.stdout
    assert "total: 0/5 points, 2 of 2 tests failed" in result.stdout


def test_check_tests_the_students_answers_not_the_reference(kit: Path) -> None:
    wrong_mul = answered(kit, "    return Tensor(a.data + b.data)", "    return Tensor(a.data + b.data)", "wrong_mul")
    result = run_tito("check", wrong_mul.name, cwd=kit, check=False)
    assert result.returncode == 1
    # No probes here: the function that only the failing test uses.
    assert result.stdout.startswith("Start here: `mul` -- 1 of the 1 failing tests use it, and 0 of the 1 passing"), result.stdout
    assert "PASS  test-add  2/2" in result.stdout, result.stdout
    assert "FAIL  test-mul  0/3  AssertionError: mul([2], [3]) should be [6]" in result.stdout
    assert "total: 2/5 points, 1 of 2 tests failed" in result.stdout


def test_check_passes_a_correct_notebook_and_flags_an_edited_test(kit: Path) -> None:
    good = answered(kit, "    return Tensor(a.data + b.data)", "    return Tensor(a.data * b.data)", "good")
    result = run_tito("check", good.name, cwd=kit)
    assert "total: 5/5 points, 0 of 2 tests failed" in result.stdout, result.stdout
    assert "Start here" not in result.stdout, "everything passes: no Start-here line"
    nb = nbformat.read(good, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test-add":
            cell.source += "\nassert True"
    nbformat.write(nb, good)
    result = run_tito("check", good.name, cwd=kit)
    assert "PASS  test-add  2/2  (this test cell was edited; grading restores the original)" in result.stdout


def test_check_reports_a_hang_as_a_failure(kit: Path) -> None:
    hang = answered(kit, "    while True:\n        pass", "    return Tensor(a.data * b.data)", "hang")
    result = run_tito("check", hang.name, "--timeout", "8", cwd=kit, check=False)
    assert result.returncode == 1
    assert "could not finish: timed out after 8s" in result.stdout, result.stdout
    # The re-run behind Start here cuts the hanging cell (after 5 s) and says where it was stuck.
    assert result.stdout.startswith("Start here: `add` -- cell test-add never finished: it was stuck in add"), result.stdout


def test_check_outside_every_kit_refuses_though_the_reference_is_importable(tmp_path: Path) -> None:
    reference = subprocess.run([sys.executable, "-c", "import tinytorch; print(tinytorch.__file__)"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
    assert reference.stdout.startswith(str(ROOT)), "this test needs the reference package importable here"
    notebook = tmp_path / "mine.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import tinytorch\nprint(tinytorch.__file__)")]), notebook)
    result = run_tito("check", notebook.name, cwd=tmp_path, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "no tinytorch/ package next to mine.ipynb or above it" in result.stderr, result.stderr
    assert "tinytorch-student folder" in result.stderr and str(ROOT) not in result.stdout


def test_the_scoring_rules_without_nbgrader_are_nbgraders() -> None:
    from nbgrader import utils

    from tito.grading import rules

    def graded(outputs: list, **meta) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell("assert f(1) == 2")
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 3, "locked": True, "solution": False, **meta}
        cell.outputs = [nbformat.v4.new_output(**o) for o in outputs]
        return cell

    def result(text) -> dict:
        return {"output_type": "execute_result", "data": {"text/plain": text}, "execution_count": 1}

    cells = [
        graded([]), graded([{"output_type": "error", "ename": "E", "evalue": "", "traceback": []}]),
        graded([{"output_type": "stream", "name": "stderr", "text": "warning"}]),
        graded([{"output_type": "stream", "name": "stdout", "text": "fine"}]),
        graded([result("2")]), graded([result("2.5")]), graded([result("-1")]), graded([result("'text'")]),
        graded([result(["1", "2"])]), graded([result(["1.5"])]), graded([], solution=True), graded([], locked=False),
    ]
    solution = graded([], solution=True)
    solution.metadata.nbgrader["checksum"] = utils.compute_checksum(solution)
    cells.append(solution)
    for cell in cells:
        for name in ("is_grade", "is_solution", "is_locked", "compute_checksum", "determine_grade"):
            assert getattr(rules, name)(cell) == getattr(utils, name)(cell), (name, cell.metadata, cell.outputs)
    too_much = graded([result("4")])
    with pytest.raises(ValueError):
        utils.determine_grade(too_much)  # nbgrader raises, so tito grade records 0 for it; so does check
    assert rules.determine_grade(too_much) == (0.0, 3.0)
