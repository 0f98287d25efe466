"""`tito release`: nbgrader's student release and the student kit leak no answer and no hidden test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from pipeline_helpers import add_ops_module, solution_lines

from tito.notebook import read_source
from tito.project import discover_modules


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """Every module of the repository released into a fresh course folder."""
    course = tmp_path_factory.mktemp("release") / "course"
    result = run_tito("release", "--course", str(course), cwd=ROOT)
    assert f"released {len(discover_modules(ROOT))} module(s)" in result.stdout
    return course


def text_files(folder: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def copied_earlier_export(kit: Path, path: Path, module) -> bool:
    """A kit file that is, by design, the unchanged export of an earlier module."""
    relative = path.relative_to(kit)
    reference = ROOT / relative
    own = module.package_file(ROOT).relative_to(ROOT)
    return relative != own and reference.is_file() and reference.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("module", discover_modules(ROOT), ids=lambda m: m.id)
def test_no_solution_or_hidden_test_line_reaches_release_or_kit(released: Path, module) -> None:
    secret = solution_lines(read_source(module.source))
    assert secret, f"{module.id}: found no solution lines to look for"
    kit = released / "kit" / module.id
    for folder in (released / "release" / module.id, kit):
        files = text_files(folder)
        assert files, f"{folder} is empty"
        for path, text in files.items():
            if folder == kit and copied_earlier_export(kit, path, module):
                continue
            leaked = [line.strip() for line in text.splitlines() if line.strip() in secret]
            assert not leaked, f"{path} contains solution/hidden-test line {leaked[0]!r}"
    assert not list(released.rglob("*_dev.py")), "a _dev.py source reached the course folder"


@pytest.mark.parametrize("module", discover_modules(ROOT), ids=lambda m: m.id)
def test_release_has_stubs_and_checksummed_locked_tests(released: Path, module) -> None:
    nb = nbformat.read(released / "release" / module.id / f"{module.name}.ipynb", as_version=4)
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert solutions and all("raise NotImplementedError()" in c.source for c in solutions)
    assert tests and all(c.metadata.nbgrader.get("checksum") and c.metadata.get("editable") is False for c in tests)
    assert list((released / "source" / module.id).iterdir()) == [released / "source" / module.id / f"{module.name}.ipynb"]


def test_rerunning_release_replaces_it(released: Path) -> None:
    module = discover_modules(ROOT)[0]
    notebook = released / "release" / module.id / f"{module.name}.ipynb"
    kit_notebook = released / "kit" / module.id / f"{module.name}.ipynb"
    original = notebook.read_text(encoding="utf-8")
    notebook.write_text("edited by hand", encoding="utf-8")
    kit_notebook.write_text("edited by hand", encoding="utf-8")
    run_tito("release", module.name, "--course", str(released), cwd=ROOT)
    assert notebook.read_text(encoding="utf-8") == original
    assert kit_notebook.read_text(encoding="utf-8") == original


def test_kit_keeps_earlier_exports_and_stubs_the_released_module(project_copy: Path, tmp_path: Path) -> None:
    add_ops_module(project_copy)
    course = tmp_path / "course"
    run_tito("release", "--course", str(course), cwd=project_copy)
    kit = course / "kit" / "02_ops"
    earlier = (project_copy / "tinytorch" / "core" / "tensor.py").read_text(encoding="utf-8")
    assert (kit / "tinytorch" / "core" / "tensor.py").read_text(encoding="utf-8") == earlier
    stubbed = (kit / "tinytorch" / "core" / "ops.py").read_text(encoding="utf-8")
    assert stubbed.count("raise NotImplementedError()") == 2 and "a.data + b.data" not in stubbed
    assert not (course / "kit" / "01_tensor" / "tinytorch" / "core" / "ops.py").exists(), "later modules stay out"

    # In the kit, the student's `tinytorch` is the kit's: its ops are stubs, its Tensor is real.
    probe = (
        "import tinytorch, tinytorch.core.ops as ops; from tinytorch.core.tensor import Tensor\n"
        "print(tinytorch.__file__)\n"
        "try:\n    ops.add(Tensor([1]), Tensor([2]))\nexcept NotImplementedError:\n    print('STUB')\n"
    )
    ran = subprocess.run([sys.executable, "-c", probe], cwd=kit, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [str(kit / "tinytorch" / "__init__.py"), "STUB"], ran.stdout


def test_student_export_puts_their_own_answers_into_the_kit(project_copy: Path, tmp_path: Path) -> None:
    add_ops_module(project_copy)
    course = tmp_path / "course"
    run_tito("release", "ops", "--course", str(course), cwd=project_copy)
    kit = course / "kit" / "02_ops"
    nb = nbformat.read(kit / "ops.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            name = "add" if "def add" in cell.source else "mul"
            body = "    return Tensor(a.data + b.data + 0)" if name == "add" else "    return Tensor(b.data * a.data)"
            cell.source = cell.source.split("    # YOUR CODE HERE")[0] + body
    nbformat.write(nb, kit / "ops.ipynb")
    result = run_tito("export", "ops.ipynb", cwd=kit)
    assert str(kit / "tinytorch" / "core" / "ops.py") in result.stdout
    exported = (kit / "tinytorch" / "core" / "ops.py").read_text(encoding="utf-8")
    assert "a.data + b.data + 0" in exported and "NotImplementedError" not in exported
    probe = "from tinytorch.core.ops import add, mul; from tinytorch.core.tensor import Tensor; print([float(x) for x in mul(add(Tensor([1]), Tensor([2])), Tensor([2])).data.tolist()])"
    ran = subprocess.run([sys.executable, "-c", probe], cwd=kit, capture_output=True, text=True, timeout=120)
    assert ran.stdout.strip() == "[6.0]", ran.stderr


def test_student_export_outside_a_kit_says_so(tmp_path: Path) -> None:
    notebook = tmp_path / "lonely.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("#| default_exp core.lonely\n#| export\nX = 1")])
    nbformat.write(nb, notebook)
    result = run_tito("export", str(notebook), cwd=tmp_path, check=False)
    assert result.returncode == 1 and "no tinytorch/ package next to" in result.stderr, result.stderr
