"""Package hygiene: `import tito` changes nothing process-wide, a missing extra is named instead of a
traceback, and the wheel carries an SPDX licence and its LICENSE file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT


def python(code: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_import_tito_blocks_nothing_and_the_quick_nbformat_import_gives_the_checker_back() -> None:
    probe = python(
        "import sys\n"
        "import tito, tito.cli, tito.project\n"
        "print('after import tito:', 'rfc3987_syntax' in sys.modules)\n"
        "from tito.imports import import_jsonschema_quickly\n"
        "import_jsonschema_quickly()\n"
        "import nbformat, jsonschema\n"
        "print('after nbformat:', 'rfc3987_syntax' in sys.modules)\n"
        "import rfc3987_syntax\n"
        "print('importable:', rfc3987_syntax.__name__)\n"
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert lines[:2] == ["after import tito: False", "after nbformat: False"], probe.stdout
    # The package is installed in the project's environment (jsonschema's format extra): it still imports normally.
    assert lines[2:] == ["importable: rfc3987_syntax"], probe.stdout


def test_a_missing_extra_is_named_not_a_traceback(tmp_path: Path) -> None:
    notebook = tmp_path / "x.ipynb"
    notebook.write_text("{}", encoding="utf-8")
    without_course = (
        "import sys\n"
        "for name in ('nbformat', 'nbgrader', 'nbclient', 'jupytext', 'nbdev'):\n"
        "    sys.modules[name] = None  # as if the course extra were not installed\n"
        "from tito.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for argv in (["check", str(notebook)], ["export"], ["release", "--course", str(tmp_path / "c")]):
        result = subprocess.run([sys.executable, "-c", without_course, *argv], cwd=ROOT, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 1, (argv, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert "install the tinytorch[course] extra" in result.stderr and "pip install -e '.[course]'" in result.stderr, result.stderr
    helped = subprocess.run([sys.executable, "-c", without_course, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert helped.returncode == 0 and "release" in helped.stdout, helped.stderr


def test_the_wheel_has_an_spdx_licence_and_the_license_file(tmp_path: Path) -> None:
    project = tmp_path / "project"  # a copy: building writes build/ and *.egg-info next to the sources
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, project / name)
    for name in ("tinytorch", "tito"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(project)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    assert "deprecated" not in built.stderr.lower(), f"the build warns:\n{built.stderr}"
    (wheel,) = tmp_path.glob("tinytorch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        licence = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert licence and "MIT License" in archive.read(licence[0]).decode(), names
    assert "License-Expression: MIT" in metadata, metadata[:800]
    # The READMEs tito release writes for students travel with the package.
    assert {"tito/course/templates/kit_README.md", "tito/course/templates/student_README.md"} <= set(names)
