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

import ast
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tito.project import Module, TitoError

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
        """--db-url, else the URL remembered in nbgrader_config.py, else sqlite gradebook.db here."""
        return self.db_url or self.managed_settings().get(DB_URL_SETTING) or f"sqlite:///{self.root / 'gradebook.db'}"

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


    def managed_settings(self) -> dict[str, object]:
        """The settings tito wrote into nbgrader_config.py's managed block: "Section.name" -> value."""
        return read_managed_block(self.root / "nbgrader_config.py")

    def set_managed(self, name: str, value: object) -> None:
        """Write `c.<name> = <value>` into nbgrader_config.py's managed block (plain nbgrader reads it too)."""
        self.ensure_config()
        write_managed_setting(self.root / "nbgrader_config.py", name, value)

    def remember_db_url(self) -> None:
        """Put --db-url into nbgrader_config.py once, so plain `nbgrader` and later tito commands run from
        this course use the same database. A different URL than the remembered one is refused: switching
        databases silently would leave the grades behind."""
        if not self.db_url:
            return
        remembered = self.managed_settings().get(DB_URL_SETTING)
        if remembered is None:
            self.set_managed(DB_URL_SETTING, self.db_url)
        elif remembered != self.db_url:
            raise TitoError(
                f"this course's gradebook is {remembered} (in {self.root / 'nbgrader_config.py'}), not {self.db_url}; "
                "leave out --db-url, or change the URL in nbgrader_config.py if the course really moved"
            )


DB_URL_SETTING = "CourseDirectory.db_url"
MANAGED_START = "# >>> tito: settings written by tito commands (--db-url, --late-penalty); change them with tito >>>"
MANAGED_END = "# <<< tito <<<"
MANAGED_LINE = re.compile(r"^c\.([A-Za-z_][\w]*\.[A-Za-z_]\w*) = (.*)$")


def read_managed_block(config: Path) -> dict[str, object]:
    if not config.is_file():
        return {}
    settings, inside = {}, False
    for line in config.read_text(encoding="utf-8").splitlines():
        if line == MANAGED_START:
            inside = True
        elif line == MANAGED_END:
            inside = False
        elif inside and (found := MANAGED_LINE.match(line)):
            settings[found.group(1)] = ast.literal_eval(found.group(2))
    return settings


def write_managed_setting(config: Path, name: str, value: object) -> None:
    """Rewrite the managed block (appended at the end of the file) with `name` set; the instructor's
    own lines outside it are kept as they are. Written to a temporary file, then renamed."""
    settings = read_managed_block(config)
    if value is None:
        settings.pop(name, None)
    else:
        settings[name] = value
    text = config.read_text(encoding="utf-8")
    if MANAGED_START in text:
        before, _, rest = text.partition(MANAGED_START)
        _, _, after = rest.partition(MANAGED_END)
        text = before.rstrip("\n") + "\n" + after.lstrip("\n")
    block = [MANAGED_START, *(f"c.{key} = {settings[key]!r}" for key in sorted(settings)), MANAGED_END]
    text = text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    temporary = config.with_name(config.name + ".tito-new")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, config)


def default_course_root(project_root: Path) -> Path:
    return project_root / "course"


def put_own_bin_on_path() -> None:
    """nbgrader runs `alembic` as a subprocess when it creates a gradebook; without the running
    interpreter's bin/ on PATH that fails and leaves a broken gradebook behind."""
    own_bin = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [own_bin]:
        os.environ["PATH"] = os.pathsep.join([own_bin, *parts])
