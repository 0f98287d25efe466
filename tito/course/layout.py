"""The course folder: nbgrader's standard layout under one root, and the nbgrader config for it.

    course/
      nbgrader_config.py   written by tito; plain `nbgrader ...` run from here uses the same settings
      gradebook.db         nbgrader's sqlite gradebook (unless --db-url says otherwise)
      source/<module>/     nbgrader's source notebook, built from modules/source (never the _dev.py)
      release/<module>/    the student notebook (nbgrader generate_assignment)
      kit/<module>/        the student kit: release notebook + a `tinytorch` with that module stubbed
      submitted/<student>/<module>/, autograded/..., feedback/...   as nbgrader has them
      grades.csv           `tito grade`'s export
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tito.project import Module

COURSE_ID = "tinytorch"

CONFIG_TEXT = f'''# Written by `tito release`. nbgrader reads this when run from this folder, and tito loads it too,
# so settings added here apply to both.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "{COURSE_ID}"
# The module sources are never copied into nbgrader's source/ folder; ignore them if they were.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*_dev.py"]
# A submission's own kernelspec may name a kernel this machine lacks (NoSuchKernel).
c.ExecutePreprocessor.kernel_name = "python3"
# Test cells a student deleted are put back before grading.
c.OverwriteCells.add_missing_cells = True
'''


@dataclass(frozen=True)
class Course:
    root: Path
    db_url: str | None = None  # None: sqlite gradebook.db in the root

    @property
    def gradebook_url(self) -> str:
        return self.db_url or f"sqlite:///{self.root / 'gradebook.db'}"

    def source_notebook(self, module: Module) -> Path:
        return self.root / "source" / module.id / f"{module.name}.ipynb"

    def release_notebook(self, module: Module) -> Path:
        return self.root / "release" / module.id / f"{module.name}.ipynb"

    def kit(self, module: Module) -> Path:
        return self.root / "kit" / module.id

    def ensure_config(self) -> Path:
        """Write nbgrader_config.py unless the instructor already has one there."""
        config = self.root / "nbgrader_config.py"
        if not config.is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            config.write_text(CONFIG_TEXT, encoding="utf-8")
        return config

    def nbgrader_config(self):  # -> traitlets.config.Config
        """The course's nbgrader config, with the root (and db_url) set for in-process use."""
        from traitlets.config.loader import PyFileConfigLoader

        config = PyFileConfigLoader(self.ensure_config().name, path=str(self.root)).load_config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.db_url = self.gradebook_url
        return config

    def course_directory(self, assignment_id: str = "*", student_id: str = "*"):  # -> CourseDirectory
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.nbgrader_config())
        coursedir.assignment_id = assignment_id
        coursedir.student_id = student_id
        return coursedir


def default_course_root(project_root: Path) -> Path:
    return project_root / "course"


def put_own_bin_on_path() -> None:
    """nbgrader runs `alembic` as a subprocess when it creates a gradebook; without the running
    interpreter's bin/ on PATH that fails and leaves a broken gradebook behind."""
    own_bin = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [own_bin]:
        os.environ["PATH"] = os.pathsep.join([own_bin, *parts])
