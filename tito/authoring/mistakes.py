"""The catalogue of plausible student mistakes kept next to a module's source (`mistakes.py`).

Module authors write it; the mutation tests, `tito mutate` and the feedback's hints read it. Its
edits quote the reference solution, so it never goes to students (the release copies only the
notebook built from `name_dev.py`).
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass

from tito.project import Module, TitoError

CATALOGUE = "mistakes.py"


@dataclass(frozen=True)
class Mistake:
    name: str  # what the student did, in words
    culprit: str  # the function (or Class.method) whose solution region holds the mistake
    caught_by: str  # grade_id of the graded cell that must fail
    wrong: dict[str, str]  # exact solution text -> the mistaken text
    says: str = ""  # the failure message contains this
    hint: str = ""  # what to tell a student whose failure matches this mistake

    def apply(self, text: str) -> str:
        """`text` (the module source) with this mistake made; each edited text must occur exactly once."""
        for right, wrong in self.wrong.items():
            count = text.count(right)
            if count != 1:
                raise TitoError(f"{self.name}: the solution text to change occurs {count} times, expected once:\n{right}")
            text = text.replace(right, wrong)
        return text


def load_mistakes(module: Module) -> list[Mistake]:
    """The module's catalogue, [] when it has none."""
    path = module.folder / CATALOGUE
    if not path.is_file():
        return []
    entries = runpy.run_path(str(path)).get("MISTAKES")
    if not isinstance(entries, list):
        raise TitoError(f"{path}: no MISTAKES list")
    try:
        return [Mistake(**entry) for entry in entries]
    except TypeError as error:
        raise TitoError(f"{path}: {error}") from error
