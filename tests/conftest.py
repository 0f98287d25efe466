from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_tito(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real `tito` command line in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-m", "tito.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"tito {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project's sources and committed package, to export into without touching the repo."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "settings.ini", copy / "settings.ini")
    shutil.copytree(
        ROOT / "modules" / "source",
        copy / "modules" / "source",
        ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"),
    )
    shutil.copytree(ROOT / "tinytorch", copy / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture(scope="session")
def student_tool(tmp_path_factory) -> Path:
    """A fresh virtual environment holding the student distribution's tool, installed as its README
    says (`pip install ./tool` in tinytorch-student/): no tinytorch, no nbgrader. Its bin/ folder.
    Made once per session, in about 25 s: this environment's pip installs into it (`--python`: no
    pip of its own to set up) without compiling bytecode (the slowest part on a loaded machine)."""
    home = tmp_path_factory.mktemp("student_tool")
    run_tito("release", "01_tensor", "--course", str(home / "course"), cwd=ROOT)
    distribution = home / "course" / "student" / "tinytorch-student"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home / "venv")], check=True, timeout=300)
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(home / "venv" / "bin" / "python"), "install",
                              "--quiet", "--no-compile", "./tool"], cwd=distribution, capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, f"installing the student tool failed:\n{install.stderr[-4000:]}"
    return home / "venv" / "bin"


def run_student_tito(bin_folder: Path, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """The student's `tito`, as a student runs it: their environment's bin/ first on PATH."""
    env = dict(os.environ, PATH=f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(bin_folder / "tito"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"student tito {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
