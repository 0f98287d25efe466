"""`tito check NOTEBOOK`: runs the student's own notebook and reports each graded test."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import run_tito
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
    run_tito("release", "ops", "--course", str(project / "course"), cwd=project)
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
