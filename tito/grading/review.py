"""Review and manual decisions: `tito review MODULE`, `tito grade MODULE --override S:GRADE_ID=POINTS --comment`.

An override is nbgrader's own manual grade: `Grade.manual_score`, which nbgrader's score uses instead of
the autograder's and which regrading leaves alone (SaveAutoGrades sets only `auto_score`); the
formgrader writes the same field. tito also keeps each override with its comment in
`<course>/overrides/<module>.json` (nbgrader has no comment for a test cell), re-applies it after
every regrade, and shows it in the feedback (a note at the top) and in the CSV `reasons`.
Late penalties are computed again after an override, since they may depend on the score.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from tito.course.layout import Course
from tito.project import TitoError

OVERRIDE = re.compile(r"^(?P<student>[^:]+):(?P<grade_id>[^=]+)=(?P<points>-?\d+(?:\.\d+)?)$")
NOTE_KEY = "tito_note"  # cell metadata marking the notes tito puts at the top of the autograded notebook


@dataclass(frozen=True)
class Override:
    student: str
    grade_id: str
    points: float
    comment: str

    def note(self, was: float | None, max_score: float) -> str:
        before = f" (autograder: {was:g})" if was is not None else ""
        return f"override {self.grade_id}: {self.points:g} of {max_score:g} points{before}: {self.comment}"


def parse_override(text: str, comment: str | None) -> Override:
    found = OVERRIDE.match(text.strip())
    if not found:
        raise TitoError(f"--override {text!r}: write STUDENT:GRADE_ID=POINTS, e.g. alice:test-add=2")
    if not comment or not comment.strip():
        raise TitoError("--override needs --comment \"why\": the student sees it in the feedback")
    return Override(found["student"], found["grade_id"], float(found["points"]), comment.strip())


def overrides_path(course: Course, module_id: str) -> Path:
    return course.root / "overrides" / f"{module_id}.json"


def read_overrides(course: Course, module_id: str) -> dict[str, dict[str, dict]]:
    """student -> grade_id -> {points, comment, max_score, autograder, at}."""
    path = overrides_path(course, module_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_overrides(course: Course, module_id: str, overrides: dict) -> None:
    path = overrides_path(course, module_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tito-new")
    temporary.write_text(json.dumps(overrides, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def record_overrides(course: Course, module_id: str, wanted: list[Override]) -> list[str]:
    """Check every override against the gradebook first, then set them all; returns their notes."""
    from nbgrader.api import MissingEntry

    from tito.grading.gradebook import gradebook

    stored = read_overrides(course, module_id)
    notes, problems = [], []
    with gradebook(course) as gb:
        grades = []
        for item in wanted:
            try:
                submission = gb.find_submission(module_id, item.student)
            except MissingEntry:
                problems.append(f"{item.student} has no graded submission of {module_id}; grade it first")
                continue
            matches = [g for nb in submission.notebooks for g in nb.grades if g.name == item.grade_id]
            if not matches:
                known = ", ".join(sorted({g.name for nb in submission.notebooks for g in nb.grades}))
                problems.append(f"{module_id} has no graded cell {item.grade_id!r}; its graded cells: {known}")
                continue
            grade = matches[0]
            if not 0 <= item.points <= grade.max_score:
                problems.append(f"{item.student}:{item.grade_id}={item.points:g} is outside 0..{grade.max_score:g}")
                continue
            grades.append((item, grade))
        if problems:
            raise TitoError("nothing recorded:\n  " + "\n  ".join(problems))
        for item, grade in grades:
            grade.manual_score = item.points
            grade.needs_manual_grade = False
            stored.setdefault(item.student, {})[item.grade_id] = {
                "points": item.points, "comment": item.comment, "max_score": grade.max_score,
                "autograder": grade.auto_score, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            notes.append(item.note(grade.auto_score, grade.max_score))
        gb.db.commit()
    write_overrides(course, module_id, stored)
    return notes


def reapply_overrides(course: Course, module_id: str, student: str, notebook: str | None = None) -> list[str]:
    """After (re)grading one student: their overrides back into the gradebook; returns the notes of
    every manual grade they have (tito's overrides, and scores given in the nbgrader formgrader),
    after 'late by 2h 13m: -3 points' when `notebook` is given and the submission was late.
    One gradebook session (this runs once per graded submission)."""
    from tito.course.deadlines import lateness
    from tito.grading.gradebook import gradebook

    mine = read_overrides(course, module_id).get(student, {})
    notes = []
    with gradebook(course) as gb:
        submission = gb.find_submission(module_id, student)
        if notebook is not None and submission.total_seconds_late > 0:
            penalty = gb.find_submission_notebook(notebook, module_id, student).late_submission_penalty or 0.0
            notes.append(f"late by {lateness(submission.total_seconds_late)}: -{penalty:g} points")
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.name in mine:
                    grade.manual_score = mine[grade.name]["points"]
                    grade.needs_manual_grade = False
                if grade.manual_score is not None:
                    notes.append(manual_note(student, grade, mine))
        gb.db.commit()
    return notes


def manual_note(student: str, grade, overrides: dict) -> str:
    if grade.name in overrides:
        return Override(student, grade.name, grade.manual_score, overrides[grade.name]["comment"]).note(
            grade.auto_score, grade.max_score)
    was = f" (autograder: {grade.auto_score:g})" if grade.auto_score is not None else ""
    return f"manual grade {grade.name}: {grade.manual_score:g} of {grade.max_score:g} points{was}, given in the nbgrader formgrader"


def manual_grade_notes(course: Course) -> dict[tuple[str, str], list[str]]:
    """(module, student) -> notes of every manual grade in the gradebook, for the CSV's reasons."""
    from nbgrader.api import Grade

    from tito.grading.gradebook import gradebook

    notes: dict[tuple[str, str], list[str]] = {}
    overrides: dict[str, dict] = {}
    with gradebook(course) as gb:
        for grade in gb.db.query(Grade).filter(Grade.manual_score.isnot(None)).all():
            module_id, student = grade.assignment.name, grade.student.id
            if module_id not in overrides:
                overrides[module_id] = read_overrides(course, module_id)
            notes.setdefault((module_id, student), []).append(
                manual_note(student, grade, overrides[module_id].get(student, {})))
    return {key: sorted(value) for key, value in notes.items()}


def set_note_cell(nb: nbformat.NotebookNode, kind: str, title: str, notes: list[str]) -> None:
    """Put (or replace, or remove) tito's note cell of this kind at the top of a notebook."""
    nb.cells = [c for c in nb.cells if c.metadata.get(NOTE_KEY) != kind]
    if notes:
        cell = nbformat.v4.new_markdown_cell(f"**{title}:**\n\n" + "\n".join(f"- {n}" for n in notes))
        cell.metadata[NOTE_KEY] = kind
        nb.cells.insert(0, cell)


REVIEW_KINDS = (("needs review", "needs review"), ("timed out", "timed out"), ("kernel died", "crashed"),
                ("could not be", "tito failed"))


def review_rows(course: Course, module_id: str) -> list[tuple[str, str, str, float, float]]:
    """(student, kind, reason, score, max) for each submission with a reason to look at it."""
    from tito.grading.feedback import read_reasons
    from tito.grading.gradebook import gradebook

    rows = []
    reasons = {student: reason for (module, student), reason in read_reasons(course).items() if module == module_id}
    with gradebook(course) as gb:
        for student, reason in sorted(reasons.items()):
            kind = next((label for key, label in REVIEW_KINDS if key in reason), "scored 0")
            if reason.startswith("late by") and ";" not in reason:
                continue  # only late: nothing to decide
            submission = gb.find_submission(module_id, student)
            rows.append((student, kind, reason, submission.score, submission.max_score))
    return rows


def format_review(course: Course, module_id: str) -> str:
    from tito.grading.gradebook import gradebook

    rows = review_rows(course, module_id)
    if not rows:
        return f"nothing to review in {module_id}: no submission needs review, timed out, crashed or scored 0 for a reason"
    overrides = read_overrides(course, module_id)
    width = max(len("student"), *(len(r[0]) for r in rows))
    lines = [f"{'student':<{width}}  {'kind':<12}  {'score':>11}  reason"]
    for student, kind, reason, score, max_score in rows:
        lines.append(f"{student:<{width}}  {kind:<12}  {score:>5g} / {max_score:<3g}  {reason}")
    with gradebook(course) as gb:
        cells = sorted({(g.name, g.max_score) for nb in gb.find_assignment(module_id).notebooks for g in nb.grade_cells})
    lines.append("graded cells: " + ", ".join(f"{name} ({points:g})" for name, points in cells))
    lines.append(f"decide with: tito grade {module_id} --override STUDENT:GRADE_ID=POINTS --comment \"why\"")
    done = [f"  {s}:{g}={o['points']:g} ({o['comment']})" for s, grades in sorted(overrides.items()) for g, o in sorted(grades.items())]
    if done:
        lines.append("overrides already recorded:")
        lines += done
    return "\n".join(lines)


def with_override_notes(course: Course, reasons: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """The CSV's reasons ((module, student) -> text) with every manual grade added."""
    merged = dict(reasons)
    for key, notes in manual_grade_notes(course).items():
        merged[key] = "; ".join(part for part in [merged.get(key, ""), *notes] if part)
    return merged


def refresh_after_override(course: Course, module_id: str, students: list[str]) -> None:
    """The late penalty again (it may depend on the score), the note in the autograded notebook, the
    feedback page and grades.csv, for the students whose grades changed."""
    from nbgrader.preprocessors import AssignLatePenalties

    from tito.grading import gradebook as gb
    from tito.grading.feedback import FeedbackWriter, read_reasons

    config = course.nbgrader_config()
    writer = FeedbackWriter(course, module_id)
    notebooks = gb.assignment_notebooks(course, module_id)
    for student in students:
        autograded = {}
        for name in notebooks:
            path = course.root / "autograded" / student / module_id / f"{name}.ipynb"
            nb = autograded[name] = nbformat.read(path, as_version=4)
            gb.run_steps([AssignLatePenalties], config, nb, gb.resources(course, module_id, student, name))
            set_note_cell(nb, "term", "Notes on this grade", reapply_overrides(course, module_id, student, name))
            nbformat.write(nb, path)
        writer.write(student, notebooks, autograded)
    gb.export_csv(course, with_override_notes(course, read_reasons(course)), course.root / "grades.csv")
