"""`tito grades MODULE --format canvas|moodle|csv`: one module's grades in a file the LMS imports.

- canvas: Canvas's gradebook import (Grades > Import), in the shape of Canvas's own export (source:
  Canvas's lib/gradebook_exporter.rb and lib/gradebook_importer.rb): `Student,ID,SIS User ID,SIS Login
  ID,Section,<assignment title> (<assignment id>)`, then `    Points Possible` with the module's maximum,
  then a row per student. Canvas finds the student by ID (Canvas's user id), else SIS User ID, else SIS
  Login ID, else the name; and the assignment by the id in the column's name, which comes from the
  Canvas gradebook export given to `tito roster import` (or `--column "Title (id)"`). A student not graded
  gets an empty cell, which Canvas leaves unchanged.
- moodle: Moodle's grade import (Grades > Import > CSV file; source: Moodle's grade/import/csv): columns
  `First name,Last name,ID number,Email address,<grade item>,Feedback`; in Moodle map "Email address" to
  `useremail` (or "ID number" to `useridnumber`) and the grade column to the grade item. Moodle skips
  an empty grade.
- csv: grades.csv's rows (nbgrader export's columns plus `reasons`) for this module only.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tito.course.layout import Course
from tito.course.roster import CANVAS_ASSIGNMENT, read_lms, roster_students
from tito.project import Module, TitoError

FORMATS = ("canvas", "moodle", "csv")


def module_grades(course: Course, module_id: str) -> tuple[dict[str, dict], float]:
    """student -> {score, raw, penalty, reasons}; and the module's maximum. Only graded students."""
    from nbgrader.api import MissingEntry

    from tito.grading.feedback import read_reasons
    from tito.grading.gradebook import gradebook
    from tito.grading.review import with_override_notes

    reasons = with_override_notes(course, read_reasons(course))
    with gradebook(course) as gb:
        try:
            assignment = gb.find_assignment(module_id)
        except MissingEntry:
            raise TitoError(f"{module_id} is not in the gradebook {course.gradebook_url}; release and grade it first") from None
        grades = {}
        for submission in assignment.submissions:
            raw, penalty = float(submission.score), float(submission.late_submission_penalty or 0.0)
            grades[submission.student.id] = {"raw": raw, "penalty": penalty, "score": max(raw - penalty, 0.0),
                                             "reasons": reasons.get((module_id, submission.student.id), "")}
        return grades, float(assignment.max_score)


def points(value: float) -> str:
    """Canvas's and Moodle's way: at most two decimals, no trailing zeros."""
    return f"{round(value, 2):g}"


def canvas_column(course: Course, module: Module, column: str | None) -> str:
    if column:
        if not CANVAS_ASSIGNMENT.match(column):
            raise TitoError(f"--column {column!r}: Canvas names an assignment column \"Title (id)\", e.g. \"Ops (12345)\"")
        return column
    known = read_lms(course).get("canvas_assignments", [])
    wanted = {module.id.casefold(), module.name.casefold()}
    fits = [c for c in known if any(w in c.casefold() for w in wanted)]
    if len(fits) == 1:
        return fits[0]
    listing = ", ".join(repr(c) for c in known) or "none (import a Canvas gradebook export with `tito roster import`)"
    raise TitoError(f"which Canvas assignment is {module.id}? {len(fits)} of the known columns fit: {listing}; "
                    "say it with --column \"Title (id)\"")


def write_grades(course: Course, module: Module, fmt: str, target: Path | None, column: str | None) -> tuple[Path, int, int]:
    """Returns (file, students graded, students left blank)."""
    if fmt not in FORMATS:
        raise TitoError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
    grades, max_score = module_grades(course, module.id)
    if not grades:
        raise TitoError(f"nothing of {module.id} is graded yet; run `tito grade {module.id}` first")
    students = roster_students(course)
    target = target or course.root / f"grades-{module.id}-{fmt}.csv"
    ids = sorted(set(students) | set(grades), key=lambda s: (students.get(s, {}).get("last_name", ""), s))
    with open(target, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        if fmt == "canvas":
            out.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", canvas_column(course, module, column)])
            out.writerow(["    Points Possible", "", "", "", "", points(max_score)])
            for sid in ids:
                info = students.get(sid, {})
                name = ", ".join(p for p in (info.get("last_name", ""), info.get("first_name", "")) if p) or sid
                out.writerow([name, info.get("lms_user_id", ""), info.get("sis_user_id", ""),
                              info.get("sis_login_id", ""), info.get("section", ""),
                              points(grades[sid]["score"]) if sid in grades else ""])
        elif fmt == "moodle":
            out.writerow(["First name", "Last name", "ID number", "Email address", column or module.id, "Feedback"])
            for sid in ids:
                info = students.get(sid, {})
                graded = grades.get(sid)
                out.writerow([info.get("first_name", ""), info.get("last_name", ""), info.get("idnumber", ""),
                              info.get("email", ""), points(graded["score"]) if graded else "",
                              graded["reasons"] if graded else ""])
        else:
            from tito.grading.feedback import read_reasons
            from tito.grading.gradebook import export_csv
            from tito.grading.review import with_override_notes

            scratch = target.with_name(target.name + ".all")
            export_csv(course, with_override_notes(course, read_reasons(course)), scratch)
            with open(scratch, newline="", encoding="utf-8") as everything:
                reader = csv.DictReader(everything)
                out.writerow(reader.fieldnames)
                for row in reader:
                    if row["assignment"] == module.id:
                        out.writerow([row[name] for name in reader.fieldnames])
            scratch.unlink()
    return target, len(grades), len(ids) - len(grades)
