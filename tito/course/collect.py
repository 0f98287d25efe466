"""`tito collect MODULE ARCHIVE.zip`: an LMS's "download all submissions" zip into `submitted/`.

Layouts (each member's path is matched by an nbgrader `FileNameCollectorPlugin`, the collector of
nbgrader's ZipCollect, with a regular expression per layout):
- Canvas (source: Canvas's app/models/content_zipper.rb, `get_filename` and `add_upload_submission`):
  a flat zip of `<sortable name, lower case, non-word characters removed>[_late]_<user id>_<attachment
  id>_<file name>`, e.g. `smithjohn_late_1234_98765_autograd-1.ipynb`; Canvas renames a file handed in
  again `autograd-1.ipynb`. The user id is matched to the roster's Canvas ID (`tito roster import`).
  Canvas's zip holds no submission time (its members are dated when the zip was made), only `late`.
- Moodle (source: Moodle's mod/assign/classes/downloader.php): with "Download submissions in folders"
  (the default since 3.1) `<Full Name>_<participant id>_assignsubmission_file[_]/<file>`, otherwise flat
  `<Full Name>_<participant id>_assignsubmission_file_<file>`. The participant id is per assignment and
  appears in no roster export, so the full name is matched to the roster; members are dated with the
  file's modification time.
- plain: `<student id>/<file>`.

Submission time: the member's date in the zip (a zip stores local time: read with this machine's
`TZ`; a member without a usable date gets the archive file's time), written as nbgrader's `timestamp.txt` in UTC. A submission already in `submitted/` that is as new
or newer is kept. Notebook names: `<name>.ipynb` as released; `<name> (1).ipynb`, `<name>-2.ipynb` and
the only `.ipynb` of a submission are taken with a note; anything else is reported with what was found.

The archive is untrusted: every member is checked before anything is written, and read with limits
(not nbgrader's extractor, which unpacks everything): `..`, absolute paths, links, encrypted members,
archives inside the archive, folders nested too deep, members over the size limit (declared, or
found while reading), a compression ratio of a zip bomb, or too many members or bytes in all. A bad
member is refused with its reason; a bad archive is refused whole. Files are written only below
`submitted/`, each submission into a fresh folder first and then renamed into place.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from tito.course.layout import Course
from tito.project import Module, TitoError

MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 64 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_RATIO = 100  # uncompressed / compressed, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 1 << 20
MAX_DEPTH = 8  # path parts
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
IGNORED = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)")

CANVAS = r"^(?P<canvas_name>[^/]*?)(?P<late>_late)?_(?P<student_id>\d+)_(?P<attachment_id>\d+)_(?P<file_id>[^/]+)$"
MOODLE_FOLDER = r"^(?P<full_name>[^/]+)_(?P<participant_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?/(?:.*/)?(?P<file_id>[^/]+)$"
MOODLE_FLAT = r"^(?P<full_name>[^/]+?)_(?P<participant_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file_id>[^/]+)$"
PLAIN = r"^(?P<student_id>[^/]+)/(?P<file_id>[^/]+)$"
LAYOUTS = (("moodle", MOODLE_FOLDER), ("moodle", MOODLE_FLAT), ("canvas", CANVAS), ("plain", PLAIN))


@dataclass
class Member:
    path: str
    data: bytes
    time: datetime  # aware


@dataclass
class Found:
    """One notebook of the archive, matched to a layout (and later to a student)."""

    member: Member
    layout: str
    info: dict[str, str]
    student: str = ""
    notebook: str = ""  # the released notebook it is taken as
    note: str = ""


@dataclass
class Outcome:
    student: str
    action: str  # collected, replaced, kept, unchanged, skipped
    time: datetime | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class CollectReport:
    outcomes: list[Outcome]
    unmatched: list[tuple[str, str]]  # member path, why
    refused: list[tuple[str, str]]  # member path, why


def refusal(info: zipfile.ZipInfo) -> str:
    """Why this member may not be extracted ('' if it may)."""
    name = info.filename
    if "\x00" in name:
        return "a NUL character in its name"
    path = name.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "an absolute path"
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        return "its path climbs out of the folder ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if len(parts) > MAX_DEPTH:
        return f"nested {len(parts)} folders deep (limit {MAX_DEPTH})"
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.file_size > MAX_MEMBER_BYTES:
        return f"declares {info.file_size} bytes (limit {MAX_MEMBER_BYTES})"
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"compressed {info.file_size // max(info.compress_size, 1)}:1, a zip bomb's ratio (limit {MAX_RATIO}:1)"
    if path.lower().endswith(ARCHIVE_SUFFIXES):
        return "an archive inside the archive (not unpacked: submit notebooks)"
    return ""


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """The member's bytes, or None if it holds more than it declares or than the limit."""
    limit = min(info.file_size, MAX_MEMBER_BYTES)
    chunks, size = [], 0
    with archive.open(info) as stream:
        while chunk := stream.read(1 << 16):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def read_archive(path: Path) -> tuple[list[Member], list[tuple[str, str]]]:
    """Every acceptable file member, read into memory under the limits; and the refused ones with why."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise TitoError(f"no archive at {path}") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise TitoError(f"{path} is not a zip archive ({error})") from None
    members, refused, total = [], [], 0
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise TitoError(f"{path} holds {len(infos)} members (limit {MAX_MEMBERS}); nothing collected")
        declared = sum(info.file_size for info in infos)
        if declared > MAX_TOTAL_BYTES:
            raise TitoError(f"{path} declares {declared} bytes in all (limit {MAX_TOTAL_BYTES}): refused as a zip bomb; nothing collected")
        for info in infos:
            if IGNORED.search(info.filename):
                continue
            reason = refusal(info)
            if reason:
                refused.append((info.filename, reason))
                continue
            if info.is_dir():
                continue
            try:
                data = read_member(archive, info)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
                refused.append((info.filename, f"unreadable ({error})"))
                continue
            if data is None:
                refused.append((info.filename, "holds more bytes than it declares"))
                continue
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise TitoError(f"{path} unpacks to more than {MAX_TOTAL_BYTES} bytes: refused as a zip bomb; nothing collected")
            try:
                moment = datetime(*info.date_time).astimezone()  # a zip's time is local time
            except ValueError:  # no usable date in the zip: the archive file's own time
                moment = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            members.append(Member(info.filename.replace("\\", "/"), data, moment))
    return members, refused


def collectors() -> list:
    """nbgrader's FileNameCollectorPlugin, one per layout (its `collect` keeps `.ipynb` files only)."""
    from nbgrader.plugins import FileNameCollectorPlugin

    plugins = []
    for layout, regexp in LAYOUTS:
        plugin = FileNameCollectorPlugin(named_regexp=regexp)
        plugin.log.setLevel(logging.ERROR)  # it warns about every name that does not match
        plugins.append((layout, plugin))
    return plugins


def match_layout(path: str, plugins: list) -> tuple[str, dict[str, str]] | None:
    for layout, plugin in plugins:
        info = plugin.collect(path)
        if info:
            return layout, {k: v for k, v in info.items() if v is not None}
    return None


def simple_name(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def roster_index(students: dict[str, dict[str, str]]) -> dict[str, dict[str, list[str]]]:
    by_canvas, by_name = {}, {}
    for student_id, info in students.items():
        if info.get("lms_user_id"):
            by_canvas.setdefault(info["lms_user_id"], []).append(student_id)
        full = simple_name(f"{info.get('first_name', '')} {info.get('last_name', '')}")
        if full:
            by_name.setdefault(full, []).append(student_id)
    return {"canvas": by_canvas, "name": by_name}


def match_student(found: Found, students: dict, index: dict) -> str:
    """The roster id for this file, or '' with the reason put in found.note."""
    info = found.info
    if found.layout == "canvas":
        ids = index["canvas"].get(info["student_id"], [])
        if len(ids) == 1:
            return ids[0]
        found.note = (f"Canvas user {info['student_id']} ({info['canvas_name']}) is not on the roster; import a fresh "
                      "Canvas gradebook export with `tito roster import`") if not ids else \
            f"Canvas user {info['student_id']} is on the roster {len(ids)} times ({', '.join(ids)})"
        return ""
    if found.layout == "moodle":
        ids = index["name"].get(simple_name(info["full_name"]), [])
        if len(ids) == 1:
            return ids[0]
        found.note = (f"{info['full_name']!r} (Moodle participant {info['participant_id']}) is not on the roster; "
                      "import Moodle's participants or grades export with `tito roster import`") if not ids else \
            f"{info['full_name']!r} names {len(ids)} students on the roster ({', '.join(ids)})"
        return ""
    student_id = info["student_id"]
    if students and student_id not in students:
        found.note = f"student {student_id!r} is not on the roster"
        return ""
    from tito.course.roster import STUDENT_ID

    if not STUDENT_ID.match(student_id):
        found.note = f"{student_id!r} cannot be a student id"
        return ""
    return student_id


def renamed(stem: str, notebook: str) -> bool:
    """`ops (1)`, `ops-2`, `ops_3`, `ops copy`: a copy of `ops` renamed by a browser, an OS or the LMS."""
    return re.fullmatch(re.escape(notebook) + r"(?:\s*\(\d+\)|[-_ ]\d+|\s*copy(?:\s*\d+)?)", stem, re.IGNORECASE) is not None


def assign_notebooks(files: list[Found], notebooks: list[str]) -> list[str]:
    """Decide which released notebook each file is; returns problems for this student ('' each)."""
    problems = []
    for found in files:
        stem = PurePosixPath(found.info["file_id"]).stem
        if stem in notebooks:
            found.notebook = stem
        else:
            for name in notebooks:
                if renamed(stem, name):
                    found.notebook = name
                    found.note = f"{PurePosixPath(found.info['file_id']).name!r} taken as {name}.ipynb"
    loose = [f for f in files if not f.notebook]
    if loose and len(notebooks) == 1 and len(files) == 1:
        loose[0].notebook = notebooks[0]
        loose[0].note = f"the only notebook, {PurePosixPath(loose[0].info['file_id']).name!r}, taken as {notebooks[0]}.ipynb"
    elif loose:
        found_names = ", ".join(sorted(PurePosixPath(f.info["file_id"]).name for f in files))
        expected = ", ".join(f"{n}.ipynb" for n in notebooks)
        problems.append(f"found {found_names}; expected {expected}")
    return problems


def existing_time(folder: Path) -> datetime | None:
    """The time of the submission already in `folder` (its timestamp.txt, else its notebooks' file time), UTC."""
    from nbgrader.utils import parse_utc

    stamp = folder / "timestamp.txt"
    if stamp.is_file():
        try:
            return parse_utc(stamp.read_text(encoding="utf-8").strip()).replace(tzinfo=timezone.utc)
        except (ValueError, OverflowError):
            pass
    times = [p.stat().st_mtime for p in folder.glob("*.ipynb")]
    return datetime.fromtimestamp(max(times), timezone.utc) if times else None


def write_submission(folder: Path, chosen: dict[str, Found], moment: datetime) -> None:
    """Write into a fresh sibling folder, then swap it into place: never a half-written submission."""
    incoming = folder.with_name(f".{folder.name}.incoming")
    outgoing = folder.with_name(f".{folder.name}.outgoing")
    for stale in (incoming, outgoing):
        if stale.exists():
            shutil.rmtree(stale)
    incoming.mkdir(parents=True)
    for notebook, found in chosen.items():
        (incoming / f"{notebook}.ipynb").write_bytes(found.member.data)
    utc = moment.astimezone(timezone.utc)
    (incoming / "timestamp.txt").write_text(f"{utc:%Y-%m-%d %H:%M:%S} UTC\n", encoding="utf-8")
    if folder.exists():
        os.rename(folder, outgoing)
    os.rename(incoming, folder)
    if outgoing.exists():
        shutil.rmtree(outgoing)


def manifest_path(course: Course, module_id: str) -> Path:
    return course.root / "collected" / f"{module_id}.json"


def read_manifest(course: Course, module_id: str) -> dict:
    path = manifest_path(course, module_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def collect(course: Course, module: Module, archive: Path) -> CollectReport:
    from tito.course.roster import roster_students
    from tito.grading.gradebook import assignment_notebooks

    notebooks = assignment_notebooks(course, module.id)
    members, refused = read_archive(archive)
    students = roster_students(course)
    index = roster_index(students)
    plugins = collectors()
    unmatched: list[tuple[str, str]] = []
    by_student: dict[str, list[Found]] = {}
    for member in members:
        if not member.path.lower().endswith(".ipynb"):
            unmatched.append((member.path, "not a notebook (skipped)"))
            continue
        matched = match_layout(member.path, plugins)
        if matched is None:
            unmatched.append((member.path, "its name fits no layout tito knows (Canvas, Moodle, or <student>/<file>)"))
            continue
        found = Found(member, *matched)
        found.student = match_student(found, students, index)
        if not found.student:
            unmatched.append((member.path, found.note))
            continue
        by_student.setdefault(found.student, []).append(found)

    due = due_date(course, module.id)
    manifest = read_manifest(course, module.id)
    outcomes = []
    for student in sorted(by_student):
        files = by_student[student]
        problems = assign_notebooks(files, notebooks)
        if problems:
            unmatched += [(f.member.path, f"{student}: {problems[0]}") for f in files if not f.notebook]
        chosen: dict[str, Found] = {}
        notes: list[str] = []
        for found in sorted((f for f in files if f.notebook), key=lambda f: (f.member.time, f.note == "")):
            if found.notebook in chosen:
                notes.append(f"an older copy in the archive ({PurePosixPath(chosen[found.notebook].member.path).name!r}) ignored")
            chosen[found.notebook] = found  # sorted oldest first: the newest wins
        if not chosen:
            continue
        notes += [f.note for f in chosen.values() if f.note]
        moment = max(f.member.time for f in chosen.values())
        if any(f.info.get("late") for f in chosen.values()) and due is not None and moment <= due:
            notes.append("Canvas marks it late, but the zip holds no later time; the zip's time is recorded")
        folder = course.root / "submitted" / student / module.id
        before = existing_time(folder) if folder.is_dir() else None
        if before is not None and before >= moment:
            same = all((folder / f"{n}.ipynb").is_file() and (folder / f"{n}.ipynb").read_bytes() == f.member.data
                       for n, f in chosen.items())
            action = "unchanged" if same else "kept"
            if not same:
                notes.append(f"the submission already collected ({before:%Y-%m-%d %H:%M} UTC) is newer than this one")
            outcomes.append(Outcome(student, action, moment, notes))
            continue
        write_submission(folder, chosen, moment)
        first = next(iter(chosen.values()))
        manifest[student] = {
            "layout": first.layout,
            "time": moment.astimezone(timezone.utc).isoformat(),
            "files": {n: PurePosixPath(f.member.path).name for n, f in chosen.items()},
            **{k: v for k, v in first.info.items() if k in ("canvas_name", "late", "attachment_id", "full_name",
                                                              "participant_id")},
            **({"canvas_user_id": first.info["student_id"]} if first.layout == "canvas" else {}),
        }
        outcomes.append(Outcome(student, "replaced" if before is not None else "collected", moment, notes))
    path = manifest_path(course, module.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tito-new")
    temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return CollectReport(outcomes, unmatched, refused)


def due_date(course: Course, module_id: str) -> datetime | None:
    from tito.grading.gradebook import gradebook

    with gradebook(course) as gb:
        duedate = gb.find_assignment(module_id).duedate
    return duedate.replace(tzinfo=timezone.utc) if duedate else None


def format_report(report: CollectReport, due: datetime | None) -> str:
    width = max([len("student"), *(len(o.student) for o in report.outcomes)])
    lines = [f"{'student':<{width}}  {'result':<9}  {'submitted (UTC)':<16}  notes"]
    for o in report.outcomes:
        when = o.time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if o.time else ""
        notes = list(o.notes)
        if due is not None and o.time is not None and o.time > due:
            from tito.course.deadlines import lateness

            notes.insert(0, f"late by {lateness((o.time - due).total_seconds())}")
        lines.append(f"{o.student:<{width}}  {o.action:<9}  {when:<16}  {'; '.join(notes)}".rstrip())
    if report.unmatched:
        lines.append("not collected (no student or notebook matched):")
        lines += [f"  {path}: {why}" for path, why in report.unmatched]
    if report.refused:
        lines.append("refused (unsafe archive members, nothing of them written):")
        lines += [f"  {path}: {why}" for path, why in report.refused]
    return "\n".join(lines)
