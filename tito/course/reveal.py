"""Which modules' reference answers students may see: an explicit, recorded decision.

`tito release ... --reveal 07_autograd` adds 07_autograd to `course/revealed_modules.txt`; every
release after that puts 07's reference export (instead of its stubs) into what students receive:
the student distribution's `tinytorch/` and the kits of the other modules. A module's own kit
keeps its stubs (it is for doing that module). Nothing else reveals anything. Grading is not
affected: it always runs against the reference of earlier modules (tito/course/kit.py).
To take a reveal back, delete the module's line from the file and release again (what students
already downloaded stays with them, of course).
"""

from __future__ import annotations

from tito.course.layout import Course
from tito.project import Module

REVEALED_FILE = "revealed_modules.txt"
HEADER = """\
# Modules whose reference answers go to students (tito release --reveal MODULE adds one).
# One module id per line. Removing a line hides that module again at the next `tito release`.
"""


def revealed_modules(course: Course) -> set[str]:
    path = course.root / REVEALED_FILE
    if not path.is_file():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line}


def reveal(course: Course, modules: list[Module]) -> set[str]:
    """Record `modules` as revealed; returns every revealed module id."""
    revealed = revealed_modules(course) | {m.id for m in modules}
    if modules:
        course.root.mkdir(parents=True, exist_ok=True)
        (course.root / REVEALED_FILE).write_text(HEADER + "".join(f"{m}\n" for m in sorted(revealed)), encoding="utf-8")
    return revealed
