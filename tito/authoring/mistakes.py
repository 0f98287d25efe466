"""The catalogue of plausible student mistakes kept next to a module's source (`mistakes.py`).

Module authors write it; the mutation tests, `tito mutate` and the feedback's hints read it. Its
edits quote the reference solution, so it never goes to students (the release copies only the
notebook built from `name_dev.py`); `student_hints` is the part that may: each mistake's culprit,
hint and match patterns, which `tito release` puts in the notebook's metadata for `tito check`.
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
    match: str = ""  # a regular expression that finds this mistake in the failure messages ('' : `says`)

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


def student_hints(module: Module) -> list[dict[str, str]]:
    """What students may see of the catalogue: for each mistake with a hint, its culprit, hint and
    patterns (`match`, `says`: failure-message text), never its edits (they quote the solution)."""
    return [{"culprit": m.culprit, "hint": m.hint, "match": m.match, "says": m.says}
            for m in load_mistakes(module) if m.hint]


def with_student_hints(nb, module: Module):
    """`nb` with the module's student hints in its metadata (`tito` -> `hints`); unchanged without any."""
    hints = student_hints(module)
    if hints:
        nb.metadata.setdefault("tito", {})["hints"] = hints
    return nb
