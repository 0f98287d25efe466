"""HTML feedback per student (nbgrader's GenerateFeedback, in-process) and the one-line reasons
that go with a score of 0 when a submission could not be graded normally."""

from __future__ import annotations

import logging
from pathlib import Path

import nbformat

from tito.course import Course

REASON_FILE = "grading_reason.txt"  # next to the autograded notebook; the CSV's `reasons` column reads it


def reason_cell(reason: str) -> nbformat.NotebookNode:
    """A note at the top of the autograded notebook, so the feedback says why everything is 0."""
    return nbformat.v4.new_markdown_cell(f"**Not graded: this submission scores 0.** Reason: {reason}")


def write_reason(folder: Path, reason: str | None) -> None:
    path = folder / REASON_FILE
    if reason:
        path.write_text(reason + "\n", encoding="utf-8")
    else:
        path.unlink(missing_ok=True)


def read_reasons(course: Course) -> dict[tuple[str, str], str]:
    """(module, student) -> reason, for every autograded submission that has one."""
    reasons = {}
    for path in sorted((course.root / "autograded").glob(f"*/*/{REASON_FILE}")):
        reasons[(path.parent.name, path.parent.parent.name)] = path.read_text(encoding="utf-8").strip()
    return reasons


def generate_feedback(course: Course, module_id: str) -> Path:
    """feedback/<student>/<module>/<notebook>.html for every autograded submission of `module_id`."""
    from nbgrader.converters import GenerateFeedback

    app = GenerateFeedback(coursedir=course.course_directory(module_id), config=course.nbgrader_config())
    app.force = True
    app.log.setLevel(logging.ERROR)
    app.start()
    return course.root / "feedback"
