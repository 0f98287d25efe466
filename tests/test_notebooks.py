"""Every module source teaches honestly: its graded tests pass on the solution and fail on the release.

The release is made by nbgrader's own preprocessors (solutions become stubs, hidden tests vanish),
and the notebooks run in a real Jupyter kernel.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from tito.notebook import read_source
from tito.project import Module, discover_modules

MODULES = discover_modules(ROOT)


def graded_cell_errors(nb: nbformat.NotebookNode, cwd: Path) -> dict[str, str | None]:
    """Run every cell (going on past errors); for each graded cell, its error (None if it passed)."""
    NotebookClient(
        nb, kernel_name="python3", timeout=300, allow_errors=True, resources={"metadata": {"path": str(cwd)}}
    ).execute()
    results = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            results[meta["grade_id"]] = f"{errors[0].ename}: {errors[0].evalue}" if errors else None
    return results


def student_release(module: Module) -> nbformat.NotebookNode:
    nb = read_source(module.source)
    nb, _ = ClearSolutions().preprocess(nb, {"language": "python"})
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    return nb


@pytest.mark.parametrize("module", MODULES, ids=[m.id for m in MODULES])
def test_graded_cells_are_locked_with_points_and_some_tests_are_hidden(module: Module) -> None:
    nb = read_source(module.source)
    graded = [c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded, f"{module.id} has no graded test cells"
    for meta in graded:
        assert meta.get("locked") is True and meta.get("points", 0) > 0, (
            f"{meta['grade_id']}: graded cells are locked and carry points"
        )
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), f"{module.id}: duplicate grade_ids"
    hidden = [c for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert hidden, f"{module.id} has no hidden tests"


@pytest.mark.parametrize("module", MODULES, ids=[m.id for m in MODULES])
def test_graded_cells_pass_on_the_solution(module: Module) -> None:
    results = graded_cell_errors(read_source(module.source), module.folder)
    failing = {k: v for k, v in results.items() if v is not None}
    assert not failing, f"{module.id}: graded cells fail on the reference solution: {failing}"


@pytest.mark.parametrize("module", MODULES, ids=[m.id for m in MODULES])
def test_graded_cells_fail_on_the_release(module: Module) -> None:
    results = graded_cell_errors(student_release(module), module.folder)
    passing = [k for k, v in results.items() if v is None]
    assert not passing, f"{module.id}: graded cells pass on the untouched student release: {passing}"


@pytest.mark.parametrize("module", MODULES, ids=[m.id for m in MODULES])
def test_running_the_source_as_a_script_runs_its_tests(module: Module, tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, module.source.name], cwd=module.folder, capture_output=True, text=True, timeout=600
    )
    assert ok.returncode == 0, f"python {module.source.name} failed:\n{ok.stdout[-2000:]}\n{ok.stderr[-2000:]}"
    stubbed = tmp_path / module.source.name
    jupytext.write(student_release(module), stubbed, fmt="py:percent")
    bad = subprocess.run([sys.executable, stubbed.name], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "NotImplementedError" in bad.stderr, "the stubbed script should fail its tests"
