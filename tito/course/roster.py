"""`tito roster import FILE.csv`: the class list, from the LMS, into nbgrader's students.

Formats, told apart by the header row:
- Canvas's gradebook export (Grades > Export): `Student,ID,SIS User ID,SIS Login ID,Section,<assignment> (<id>),...`
  (`SIS User ID` only when the export includes SIS ids; `LastName,FirstName,ID,...` when names are split),
  a `    Points Possible` row and maybe a `Manual Posting` row before the students, and Canvas's
  `Student, Test` (the test student) among them. Source: Canvas's lib/gradebook_exporter.rb.
  nbgrader's student id: SIS Login ID, else SIS User ID, else Canvas's user ID; Canvas's user ID goes
  into nbgrader's `lms_user_id` (a Canvas submissions zip names students by it). Its assignment columns
  (`Title (id)`) are remembered for `tito grades --format canvas`.
- Moodle's grades export (Grades > Export > Plain text file: `First name,Last name,ID number,Institution,
  Department,Email address,<items>...`) and Moodle's participants download (`First name,Last name,Email
  address` plus the site's identity fields such as `ID number`, `Username`). nbgrader's student id: ID
  number, else Username, else the email address.
- plain: `id,first_name,last_name,email`.

Every row is checked first; any bad row is reported with its line number and nothing is imported.
The students are then added or updated in one database transaction, and what nbgrader has no column
for (Canvas SIS ids and section, Moodle's ID number) goes to `<course>/lms.json`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tito.course.layout import Course
from tito.project import TitoError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CANVAS_ASSIGNMENT = re.compile(r"^(?P<title>.*\S)\s*\((?P<id>\d+)\)$")
CANVAS_TEST_STUDENT = "Student, Test"
LMS_FILE = "lms.json"


@dataclass
class RosterEntry:
    line: int
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # what nbgrader has no column for


@dataclass
class Roster:
    format: str
    entries: list[RosterEntry]
    canvas_assignments: list[str] = field(default_factory=list)  # "Title (id)" columns, as Canvas names them
    skipped: list[str] = field(default_factory=list)


def read_lms(course: Course) -> dict:
    path = course.root / LMS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"students": {}}


def write_lms(course: Course, data: dict) -> None:
    path = course.root / LMS_FILE
    temporary = path.with_name(path.name + ".tito-new")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_rows(path: Path) -> list[list[str]]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise TitoError(f"cannot read {path}: {error.strerror}") from None
    for encoding in ("utf-8-sig", "cp1252"):  # LMS exports: UTF-8 with a BOM, or Excel's Windows encoding
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    dialect = csv.excel_tab if text.split("\n", 1)[0].count("\t") > text.split("\n", 1)[0].count(",") else csv.excel
    return list(csv.reader(io.StringIO(text), dialect))


def parse_roster(path: Path) -> Roster:
    rows = read_rows(path)
    if not rows:
        raise TitoError(f"{path} is empty")
    header = [name.strip() for name in rows[0]]
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if header[:2] == ["Student", "ID"] or header[:3] == ["LastName", "FirstName", "ID"]:
        return parse_canvas(header, body)
    if {"First name", "Last name", "Email address"} <= set(header):
        return parse_moodle(header, body)
    if {"id", "first_name", "last_name", "email"} <= set(header):
        return parse_plain(header, body)
    raise TitoError(
        f"{path}: header {','.join(header[:6])}... is not a roster tito knows; expected Canvas's gradebook export "
        "(Student,ID,...), Moodle's grades or participants export (First name,Last name,...,Email address) "
        "or id,first_name,last_name,email"
    )


def cells(header: list[str], row: list[str]) -> dict[str, str]:
    return {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}


def parse_canvas(header: list[str], body: list[tuple[int, list[str]]]) -> Roster:
    split_names = header[0] == "LastName"
    reserved = {"Student", "LastName", "FirstName", "ID", "SIS User ID", "SIS Login ID", "Section", "Integration ID",
                "Root Account"}
    assignments = [name for name in header if name not in reserved and CANVAS_ASSIGNMENT.match(name)]
    roster = Roster("Canvas gradebook export", [], assignments)
    for number, row in body:
        values = cells(header, row)
        first_cell = row[0].strip() if row else ""
        if "Points Possible" in first_cell or all(re.match(r"^\s*(Muted|Manual Posting.*)?\s*$", c, re.I) for c in row):
            continue  # Canvas's rows about the assignments, not students
        if split_names:
            last, first = values.get("LastName", ""), values.get("FirstName", "")
        else:
            last, _, first = values.get("Student", "").partition(",")
            last, first = last.strip(), first.strip()
        if f"{last}, {first}" == CANVAS_TEST_STUDENT:
            roster.skipped.append(f"line {number}: Canvas's test student")
            continue
        canvas_id = values.get("ID", "")
        student_id = values.get("SIS Login ID") or values.get("SIS User ID") or canvas_id
        extra = {key: values[name] for key, name in (("sis_user_id", "SIS User ID"), ("sis_login_id", "SIS Login ID"),
                                                     ("section", "Section")) if values.get(name)}
        email = student_id if EMAIL.match(student_id) else ""  # Canvas logins are often email addresses
        roster.entries.append(RosterEntry(number, student_id, first, last, email, canvas_id, extra))
    return roster


def parse_moodle(header: list[str], body: list[tuple[int, list[str]]]) -> Roster:
    kind = "Moodle grades export" if "Last downloaded from this course" in header or any(
        name.endswith(("(Real)", "(Percentage)", "(Letter)")) for name in header) else "Moodle participants export"
    roster = Roster(kind, [])
    for number, row in body:
        values = cells(header, row)
        email = values.get("Email address", "")
        student_id = values.get("ID number") or values.get("Username") or email
        extra = {key: values[name] for key, name in (("idnumber", "ID number"), ("username", "Username")) if values.get(name)}
        roster.entries.append(RosterEntry(number, student_id, values.get("First name", ""), values.get("Last name", ""),
                                          email, "", extra))
    return roster


def parse_plain(header: list[str], body: list[tuple[int, list[str]]]) -> Roster:
    roster = Roster("id,first_name,last_name,email", [])
    for number, row in body:
        values = cells(header, row)
        roster.entries.append(RosterEntry(number, values["id"], values["first_name"], values["last_name"], values["email"]))
    return roster


def problems_of(roster: Roster) -> list[str]:
    problems, seen = [], {}
    for entry in roster.entries:
        where = f"line {entry.line}"
        if not entry.id:
            problems.append(f"{where}: no student id")
        elif not STUDENT_ID.match(entry.id):
            problems.append(f"{where}: student id {entry.id!r} has characters a folder name cannot safely hold "
                            "(use letters, digits and . _ @ + -)")
        elif entry.id in seen:
            problems.append(f"{where}: student id {entry.id!r} again (first on line {seen[entry.id]})")
        else:
            seen[entry.id] = entry.line
        if entry.email and not EMAIL.match(entry.email):
            problems.append(f"{where}: {entry.email!r} is not an email address")
        if not (entry.first_name or entry.last_name):
            problems.append(f"{where}: no name")
    if not roster.entries:
        problems.append("no students in the file")
    return problems


def import_roster(course: Course, path: Path) -> tuple[Roster, int, int]:
    """Check every row, then add or update all students in one transaction. Returns (roster, added, updated)."""
    from nbgrader.api import Student

    from tito.grading.gradebook import gradebook

    roster = parse_roster(path)
    problems = problems_of(roster)
    if problems:
        raise TitoError(f"{path} ({roster.format}): nothing imported, fix these rows first:\n  " + "\n  ".join(problems))
    course.ensure_config()
    added = updated = 0
    with gradebook(course) as gb:
        session = gb.db
        try:
            for entry in roster.entries:
                student = session.get(Student, entry.id)
                if student is None:
                    student = Student(id=entry.id)
                    session.add(student)
                    added += 1
                else:
                    updated += 1
                student.first_name, student.last_name = entry.first_name or None, entry.last_name or None
                student.email = entry.email or student.email
                student.lms_user_id = entry.lms_user_id or student.lms_user_id
            session.commit()
        except Exception as error:
            session.rollback()
            raise TitoError(f"nothing imported: the gradebook refused the roster ({type(error).__name__}: {error})") from None
    lms = read_lms(course)
    for entry in roster.entries:
        lms["students"].setdefault(entry.id, {}).update(entry.extra)
    if roster.canvas_assignments:
        lms["canvas_assignments"] = roster.canvas_assignments
    write_lms(course, lms)
    return roster, added, updated


def roster_students(course: Course) -> dict[str, dict[str, str]]:
    """nbgrader's students (id -> first_name, last_name, email, lms_user_id) with tito's LMS extras."""
    from tito.grading.gradebook import gradebook

    extras = read_lms(course)["students"]
    with gradebook(course) as gb:
        return {
            s.id: {"first_name": s.first_name or "", "last_name": s.last_name or "", "email": s.email or "",
                   "lms_user_id": s.lms_user_id or "", **extras.get(s.id, {})}
            for s in gb.students
        }
