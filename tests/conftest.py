from __future__ import annotations

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
