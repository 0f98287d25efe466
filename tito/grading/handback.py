"""`tito return MODULE`: the feedback pages, ready to upload to the LMS.

Writes `returned/<module>/<student>/<notebook>.html` (a folder per student: the pages `tito grade` wrote
into feedback/, byte for byte) and one zip, `returned/<module>/feedback-<lms>.zip`, in the layout the
LMS takes back in bulk:
- canvas ("Upload submissions" / re-upload on the assignment's Submissions page; source: Canvas's
  app/models/assignment.rb, `generate_comments_from_files` and `infer_comment_context_from_filename`):
  a flat zip whose file names hold, as their first two all-digit `_`-separated parts, the student's
  user id and the id of a file of their submission: the prefix of the file collected from Canvas's
  zip is kept, `<name>[_late]_<user id>_<attachment id>_<notebook>-feedback.html`. Each file becomes an
  attachment on a comment ("See attached file") on that student's submission.
- moodle ("Upload multiple feedback files in a zip"; source: Moodle's
  mod/assign/feedback/file/importziplib.php, `is_valid_filename_for_import`): a folder per student
  named `<Full Name>_<participant id>_assignfeedback_file`, as the download names its folders; the
  participant id is the one of the collected zip. Each file becomes a feedback file of that student.
- plain: `<student>/<notebook>.html`.
The default is the layout the module's submissions were collected from (`tito collect`); students who
came by another way are listed as left out of an LMS zip. The pages are what the feedback step wrote
(hidden tests are the feedback's business, tito/grading/feedback.py); nothing else goes into the zip.
"""

from __future__ import annotations

import shutil
import zipfile
from collections import Counter
from pathlib import Path

from tito.course.collect import read_manifest
from tito.course.layout import Course
from tito.project import Module, TitoError

LAYOUTS = ("canvas", "moodle", "plain")


def zip_name(layout: str, student: str, notebook: str, collected: dict) -> str | None:
    """The file's name in the LMS's zip, or None if this student cannot be named in that layout."""
    if layout == "plain":
        return f"{student}/{notebook}.html"
    if collected.get("layout") != layout:
        return None
    if layout == "canvas":
        prefix = collected["canvas_name"] + ("_late" if collected.get("late") else "")
        return f"{prefix}_{collected['canvas_user_id']}_{collected['attachment_id']}_{notebook}-feedback.html"
    full_name = collected["full_name"].replace("_", " ")
    return f"{full_name}_{collected['participant_id']}_assignfeedback_file/{notebook}-feedback.html"


def return_feedback(course: Course, module: Module, layout: str | None = None) -> tuple[Path, Path, list[str], list[str]]:
    """Returns (folder, zip, students in the zip, students left out with why)."""
    feedback = course.root / "feedback"
    pages = {p.parent.parent.name: sorted(p.parent.glob("*.html")) for p in feedback.glob(f"*/{module.id}/*.html")}
    if not pages:
        raise TitoError(f"no feedback for {module.id} under {feedback}; run `tito grade {module.id}` first")
    manifest = read_manifest(course, module.id)
    if layout is None:
        layouts = Counter(entry["layout"] for entry in manifest.values())
        layout = layouts.most_common(1)[0][0] if layouts else "plain"
    if layout not in LAYOUTS:
        raise TitoError(f"unknown layout {layout!r}; use {', '.join(LAYOUTS)}")
    folder = course.root / "returned" / module.id
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    archive = folder / f"feedback-{layout}.zip"
    included, left_out = [], []
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for student in sorted(pages):
            (folder / student).mkdir()
            names = []
            for page in pages[student]:
                shutil.copyfile(page, folder / student / page.name)
                name = zip_name(layout, student, page.stem, manifest.get(student, {}))
                if name is None:
                    break
                names.append((name, page))
            if len(names) < len(pages[student]):
                left_out.append(f"{student}: not collected from a {layout} zip, so {layout} cannot be told whose it is")
                continue
            for name, page in names:
                out.write(page, name)
            included.append(student)
    return folder, archive, included, left_out
