"""The instructor's term in miniature, through the real `tito` command line, a real nbgrader gradebook
and real kernels: roster, release with due dates, collect an LMS zip, grade (two runs at once), review,
override, regrade one student, return the feedback, export the grades and read them back."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from pipeline_helpers import add_ops_module, read_csv

from tito.course.layout import Course
from tito.grading.gradebook import gradebook

DUE = "2026-12-10 23:59"  # local time, as an instructor types it; zip member times are local too
CANVAS_EXPORT = """\
Student,ID,SIS User ID,SIS Login ID,Section,Ops (5501),Tensor (5502),Current Score,Final Score
    Points Possible,,,,,5.00,75.00,(read only),(read only)
"Liddell, Alice",101,S-1,alice,Lab A,,,,
"Smith, Bob",102,S-2,bob,Lab A,,,,
"Jones, Carol",103,S-3,carol,Lab B,,,,
"Kim, Dave",104,S-4,dave,Lab B,,,,
"Ng, Erin",105,S-5,erin,Lab B,,,,
"Student, Test",999,,,Lab A,,,,
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project copy with the small 02_ops module exported (its release grades in seconds)."""
    copy = tmp_path_factory.mktemp("term") / "project"
    copy.mkdir()
    shutil.copy(ROOT / "settings.ini", copy / "settings.ini")
    shutil.copytree(ROOT / "modules" / "source", copy / "modules" / "source", ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    shutil.copytree(ROOT / "tinytorch", copy / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    add_ops_module(copy)
    return copy


def notebooks(course: Path) -> dict[str, nbformat.NotebookNode]:
    """Submissions made from the release: the solution, one with mul wrong, the untouched release, a crash."""
    source = nbformat.read(course / "source" / "02_ops" / "ops.ipynb", as_version=4)
    release = nbformat.read(course / "release" / "02_ops" / "ops.ipynb", as_version=4)
    partial = nbformat.from_dict(source)
    for cell in partial.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ops-mul":
            cell.source = cell.source.replace("a.data * b.data", "a.data + b.data")
    crash = nbformat.from_dict(source)
    crash.cells.insert(1, nbformat.v4.new_code_cell("import os\nos._exit(3)"))
    slow = nbformat.from_dict(source)  # keeps a grading busy long enough for a second one to meet it
    slow.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(8)"))
    return {"solution": source, "partial": partial, "release": release, "crash": crash, "slow": slow}


def zip_of(entries: list[tuple[str, nbformat.NotebookNode | bytes, tuple]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, when in entries:
            info = zipfile.ZipInfo(name, date_time=when)
            archive.writestr(info, content if isinstance(content, bytes) else nbformat.writes(content))
    return buffer.getvalue()


def local_to_utc(*parts: int) -> datetime:
    return datetime(*parts).astimezone().astimezone(timezone.utc).replace(tzinfo=None)


@pytest.fixture
def new_york(monkeypatch):
    """Not UTC, so that the timezone rule is tested: local dates in, UTC stored (tito inherits TZ)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_term_in_miniature(project: Path, tmp_path: Path, new_york) -> None:
    course = tmp_path / "course"
    elsewhere = tmp_path / "db" / "gradebook.sqlite"  # a database outside the course: --db-url
    elsewhere.parent.mkdir()
    url = f"sqlite:///{elsewhere}"
    opts = ["--course", str(course)]

    # 1. Release two modules with due dates (the first with a penalty and the database URL).
    out = run_tito("release", "02_ops", *opts, "--db-url", url, "--due", DUE, "--late-penalty", "1/hour", cwd=project).stdout
    assert "late penalty 1/hour" in out and "due 2026-12-10 23:59" in out, out
    run_tito("release", "01_tensor", *opts, "--due", "2026-12-17 23:59", cwd=project)
    config = (course / "nbgrader_config.py").read_text(encoding="utf-8")
    assert f"c.CourseDirectory.db_url = '{url}'" in config and "c.LatePenalty.policies = {'02_ops': '1/hour'}" in config
    with gradebook(Course(course)) as gb:  # no --db-url: the remembered one
        assert gb.find_assignment("02_ops").duedate == local_to_utc(2026, 12, 10, 23, 59)
        assert gb.find_assignment("01_tensor").duedate == local_to_utc(2026, 12, 17, 23, 59)
    bad_url = run_tito("grade", "02_ops", *opts, "--db-url", "sqlite:////nowhere.db", cwd=project, check=False)
    assert bad_url.returncode == 1 and "this course's gradebook is" in bad_url.stderr

    # 2. The roster: a bad file imports nothing, with line numbers; Canvas's export imports all.
    bad = tmp_path / "bad.csv"
    bad.write_text("id,first_name,last_name,email\nzed,Zed,Z,zed@uni.edu\nzed,Zed,Again,zed2@uni.edu\nyan,Yan,Y,not-an-email\n")
    refused = run_tito("roster", "import", str(bad), *opts, cwd=project, check=False)
    assert refused.returncode == 1 and "line 3: student id 'zed' again (first on line 2)" in refused.stderr
    assert "line 4: 'not-an-email' is not an email address" in refused.stderr and "Traceback" not in refused.stderr
    export = tmp_path / "canvas.csv"
    export.write_text(CANVAS_EXPORT, encoding="utf-8")
    out = run_tito("roster", "import", str(export), *opts, cwd=project).stdout
    assert "Canvas gradebook export; 5 student(s) added" in out and "Canvas's test student" in out
    with gradebook(Course(course)) as gb:
        students = {s.id: (s.first_name, s.last_name, s.lms_user_id) for s in gb.students}
    assert students == {"alice": ("Alice", "Liddell", "101"), "bob": ("Bob", "Smith", "102"), "carol": ("Carol", "Jones", "103"),
                        "dave": ("Dave", "Kim", "104"), "erin": ("Erin", "Ng", "105")}
    plain_nbgrader = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "db", "student", "list"], cwd=course,
                                    capture_output=True, text=True, timeout=300)
    assert "alice (Liddell, Alice)" in plain_nbgrader.stdout + plain_nbgrader.stderr, "plain nbgrader uses another database"
    assert not (course / "gradebook.db").exists(), "a stray sqlite gradebook appeared in the course"

    # 3. A Canvas submissions zip: on time, late and renamed, a resubmission, a crash, a stranger, '../'.
    nbs = notebooks(course)
    archive = tmp_path / "submissions.zip"
    archive.write_bytes(zip_of([
        ("liddellalice_101_7001_ops.ipynb", nbs["slow"], (2026, 12, 10, 20, 0, 0)),
        ("smithbob_late_102_7002_ops-1.ipynb", nbs["solution"], (2026, 12, 11, 2, 12, 0)),  # late by 2h 13m
        ("jonescarol_103_7003_ops.ipynb", nbs["release"], (2026, 12, 9, 10, 0, 0)),  # first try
        ("jonescarol_103_7013_ops-1.ipynb", nbs["partial"], (2026, 12, 10, 22, 0, 0)),  # handed in again
        ("kimdave_104_7004_my work.ipynb", nbs["crash"], (2026, 12, 10, 21, 0, 0)),  # the only notebook
        ("strangerzoe_555_7005_ops.ipynb", nbs["solution"], (2026, 12, 10, 21, 0, 0)),
        ("../escaped.ipynb", nbs["solution"], (2026, 12, 10, 21, 0, 0)),
    ]))
    out = run_tito("collect", "02_ops", str(archive), *opts, cwd=project).stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in students}
    assert set(rows) == {"alice", "bob", "carol", "dave"} and all(" collected " in r for r in rows.values()), out
    assert "late by 2h 13m" in rows["bob"] and "'ops-1.ipynb' taken as ops.ipynb" in rows["bob"]
    assert "older copy" in rows["carol"] and "the only notebook, 'my work.ipynb'" in rows["dave"]
    assert "strangerzoe_555_7005_ops.ipynb: Canvas user 555 (strangerzoe) is not on the roster" in out
    assert "../escaped.ipynb: its path climbs out of the folder ('..')" in out
    assert not (course / "escaped.ipynb").exists() and not (course / "submitted" / "escaped.ipynb").exists()
    submitted = course / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["alice", "bob", "carol", "dave"]
    assert (submitted / "carol" / "02_ops" / "ops.ipynb").read_text() == nbformat.writes(nbs["partial"])
    bob_time = local_to_utc(2026, 12, 11, 2, 12)
    assert (submitted / "bob" / "02_ops" / "timestamp.txt").read_text().strip() == f"{bob_time:%Y-%m-%d %H:%M:%S} UTC"
    older = tmp_path / "older.zip"  # an older copy collected later never replaces the newer one
    older.write_bytes(zip_of([("jonescarol_103_7003_ops.ipynb", nbs["release"], (2026, 12, 9, 10, 0, 0))]))
    out = run_tito("collect", "02_ops", str(older), *opts, cwd=project).stdout
    assert "carol" in out and " kept " in out and "is newer than this one" in out
    assert (submitted / "carol" / "02_ops" / "ops.ipynb").read_text() == nbformat.writes(nbs["partial"])

    # 4. Two gradings at once: the second waits for the first, both exit 0, nothing recorded wrong;
    #    a third with --no-wait refuses while the course is busy.
    grade = [sys.executable, "-m", "tito.cli", "grade", "02_ops", *opts, "--workers", "2", "--timeout", "60"]
    first = subprocess.Popen(grade, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = course / ".tito.lock"
    for _ in range(600):
        if lock.is_file() and "grade 02_ops" in lock.read_text():
            break
        time.sleep(0.1)
    refused = run_tito("grade", "02_ops", *opts, "--no-wait", cwd=project, check=False)
    second = subprocess.Popen(grade, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (out1, err1), (out2, err2) = first.communicate(timeout=600), second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert refused.returncode == 1 and "is busy: `tito grade 02_ops`" in refused.stderr
    assert "is busy" in err2 and "waiting for it to finish" in err2, err2
    assert out1.splitlines()[:5] == out2.splitlines()[:5], "the two runs disagree"
    expected = {"alice": (5.0, 0.0), "bob": (5.0, 3.0), "carol": (2.0, 0.0), "dave": (0.0, 0.0)}
    assert raw_and_penalty(course) == expected
    grades = read_csv(course / "grades.csv")
    assert {k for k in grades} == {("02_ops", s) for s in ("alice", "bob", "carol", "dave", "erin")}, "01_tensor is not graded"
    assert grades[("02_ops", "bob")]["score"] == "2.0" and grades[("02_ops", "bob")]["reasons"] == "late by 2h 13m: -3 points"
    assert grades[("02_ops", "erin")]["score"] == "" and grades[("02_ops", "erin")]["reasons"] == "no submission"
    assert "late by 2h 13m: -3 points" in next(line for line in out2.splitlines() if line.startswith("bob"))
    assert "late by 2h 13m: -3 points" in feedback(course, "bob")
    assert "the kernel died" in grades[("02_ops", "dave")]["reasons"]

    # 5. Review lists dave's crash; an override decides it, and survives regrading dave alone.
    out = run_tito("review", "02_ops", *opts, cwd=project).stdout
    assert "dave" in out and "crashed" in out and "alice" not in out and "test-add (2)" in out
    comment = "the grader's kernel died; checked by hand: add works"
    out = run_tito("grade", "02_ops", *opts, "--override", "dave:test-add=2", "--comment", comment, cwd=project).stdout
    assert "override test-add: 2 of 2 points (autograder: 0)" in out
    regrade = run_tito("grade", "02_ops", *opts, "--student", "dave", "--timeout", "60", cwd=project).stdout
    table = [line.split()[0] for line in regrade.splitlines()[1:] if line and not line.startswith("graded ")]
    assert table == ["dave"], regrade
    assert raw_and_penalty(course)["dave"] == (2.0, 0.0) and raw_and_penalty(course)["alice"] == (5.0, 0.0)
    with gradebook(Course(course)) as gb:
        add = gb.find_grade("test-add", "ops", "02_ops", "dave")
        assert (add.auto_score, add.manual_score) == (0.0, 2.0)
    dave = read_csv(course / "grades.csv")[("02_ops", "dave")]
    assert dave["score"] == "2.0" and comment in dave["reasons"] and "the kernel died" in dave["reasons"]
    assert comment in feedback(course, "dave")

    # 6. Return the feedback: a folder per student and Canvas's re-upload zip.
    out = run_tito("return", "02_ops", *opts, cwd=project).stdout
    returned = course / "returned" / "02_ops"
    for student in ("alice", "bob", "carol", "dave"):
        assert (returned / student / "ops.html").read_bytes() == (course / "feedback" / student / "02_ops" / "ops.html").read_bytes()
    with zipfile.ZipFile(returned / "feedback-canvas.zip") as back:
        names = sorted(back.namelist())
        assert names == ["jonescarol_103_7013_ops-feedback.html", "kimdave_104_7004_ops-feedback.html",
                         "liddellalice_101_7001_ops-feedback.html", "smithbob_late_102_7002_ops-feedback.html"]
        for name in names:  # Canvas's rule: the first two all-digit parts are the user and the file handed in
            user_id, attachment_id = [part for part in name.split("_") if part.isdigit()][:2]
            student = next(s for s, info in students.items() if info[2] == user_id)
            assert back.read(name) == (returned / student / "ops.html").read_bytes()
            collected = json.loads((course / "collected" / "02_ops.json").read_text())[student]
            assert collected["attachment_id"] == attachment_id
    assert "4 student(s) in" in out

    # 7. Grades for Canvas and Moodle, read back against the gradebook.
    run_tito("grades", "02_ops", "--format", "canvas", *opts, cwd=project)
    run_tito("grades", "02_ops", "--format", "moodle", "--column", "Ops", *opts, cwd=project)
    truth = {s: raw - penalty for s, (raw, penalty) in raw_and_penalty(course).items()}
    canvas = list(csv.reader((course / "grades-02_ops-canvas.csv").open(encoding="utf-8")))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Ops (5501)"]
    assert canvas[1] == ["    Points Possible", "", "", "", "", "5"]
    by_canvas_id = {row[1]: row for row in canvas[2:]}
    assert set(by_canvas_id) == {"101", "102", "103", "104", "105"}
    for student, (_, _, canvas_id) in students.items():
        row = by_canvas_id[canvas_id]
        assert row[3] == student and (float(row[5]) if row[5] else None) == truth.get(student), row
    moodle = list(csv.DictReader((course / "grades-02_ops-moodle.csv").open(encoding="utf-8")))
    assert {r["Last name"]: r["Ops"] for r in moodle} == {"Liddell": "5", "Smith": "2", "Jones": "2", "Kim": "2", "Ng": ""}
    assert not (course / "gradebook.db").exists()


def raw_and_penalty(course: Path) -> dict[str, tuple[float, float]]:
    with gradebook(Course(course)) as gb:
        return {s.student.id: (float(s.score), float(s.late_submission_penalty or 0))
                for s in gb.find_assignment("02_ops").submissions}


def feedback(course: Path, student: str) -> str:
    return (course / "feedback" / student / "02_ops" / "ops.html").read_text(encoding="utf-8")


MOODLE_PARTICIPANTS = """\
First name,Last name,Email address,ID number
Jane,Doe,jane@uni.edu,20231
Ravi,Patel,ravi@uni.edu,20232
Li,Wei,li@uni.edu,20233
"""


def test_a_moodle_zip_is_collected_and_its_feedback_returned(project: Path, tmp_path: Path) -> None:
    course = tmp_path / "course"
    opts = ["--course", str(course)]
    run_tito("release", "02_ops", *opts, cwd=project)
    participants = tmp_path / "participants.csv"
    participants.write_text(MOODLE_PARTICIPANTS, encoding="utf-8")
    assert "Moodle participants export; 3 student(s) added" in run_tito("roster", "import", str(participants), *opts, cwd=project).stdout
    nbs = notebooks(course)
    link = zipfile.ZipInfo("Li Wei_3303_assignsubmission_file/link.ipynb", date_time=(2026, 12, 1, 9, 0, 0))
    link.external_attr = (0o120777 << 16)
    archive = tmp_path / "moodle.zip"
    entries = zip_of([
        ("Jane Doe_3301_assignsubmission_file/ops.ipynb", nbs["solution"], (2026, 12, 1, 9, 30, 0)),  # Moodle >= 4.1
        ("Ravi Patel_3302_assignsubmission_file_/ops (1).ipynb", nbs["partial"], (2026, 12, 1, 10, 0, 0)),  # older Moodle
        ("Li Wei_3303_assignsubmission_file_ops.ipynb", nbs["release"], (2026, 12, 1, 11, 0, 0)),  # flat (before 3.1)
        ("Jane Doe_3301_assignsubmission_onlinetext/onlinetext.html", b"<p>hi</p>", (2026, 12, 1, 9, 30, 0)),
        ("Nobody Known_3304_assignsubmission_file/ops.ipynb", nbs["solution"], (2026, 12, 1, 9, 0, 0)),
        ("a/b/c/d/e/f/g/h/i/ops.ipynb", nbs["solution"], (2026, 12, 1, 9, 0, 0)),
        ("/etc/ops.ipynb", nbs["solution"], (2026, 12, 1, 9, 0, 0)),
        ("Jane Doe_3301_assignsubmission_file/more.zip", b"PK", (2026, 12, 1, 9, 0, 0)),
    ])
    buffer = io.BytesIO(entries)
    with zipfile.ZipFile(buffer, "a") as more:
        more.writestr(link, "/etc/passwd")
        more.writestr(zipfile.ZipInfo("Jane Doe_3301_assignsubmission_file/bomb.ipynb", date_time=(2026, 12, 1, 9, 0, 0)),
                      b"0" * (3 << 20), compress_type=zipfile.ZIP_DEFLATED)
    archive.write_bytes(buffer.getvalue())
    out = run_tito("collect", "02_ops", str(archive), *opts, cwd=project).stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in ("20231", "20232", "20233")}
    assert set(rows) == {"20231", "20232", "20233"} and all(" collected " in r for r in rows.values()), out
    assert "'ops (1).ipynb' taken as ops.ipynb" in rows["20232"]
    assert "'Nobody Known' (Moodle participant 3304) is not on the roster" in out
    assert "onlinetext.html: not a notebook" in out
    for member, why in [("a/b/c/d/e/f/g/h/i/ops.ipynb", "nested 10 folders deep"), ("/etc/ops.ipynb", "an absolute path"),
                        ("more.zip", "an archive inside the archive"), ("link.ipynb", "a symbolic link"),
                        ("bomb.ipynb", "a zip bomb's ratio")]:
        assert any(member in line and why in line for line in out.splitlines()), f"{member}: {why}\n{out}"
    submitted = course / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["20231", "20232", "20233"]
    assert sorted(p.name for p in (submitted / "20231" / "02_ops").iterdir()) == ["ops.ipynb", "timestamp.txt"]
    jane_time = datetime(2026, 12, 1, 9, 30).astimezone().astimezone(timezone.utc)
    assert (submitted / "20231" / "02_ops" / "timestamp.txt").read_text().strip() == f"{jane_time:%Y-%m-%d %H:%M:%S} UTC"

    run_tito("grade", "02_ops", *opts, "--timeout", "60", cwd=project)
    run_tito("return", "02_ops", *opts, cwd=project)
    with zipfile.ZipFile(course / "returned" / "02_ops" / "feedback-moodle.zip") as back:
        assert sorted(back.namelist()) == ["Jane Doe_3301_assignfeedback_file/ops-feedback.html",
                                           "Li Wei_3303_assignfeedback_file/ops-feedback.html",
                                           "Ravi Patel_3302_assignfeedback_file/ops-feedback.html"]
    # nbgrader's formgrader, served over tito's gradebook: a manual grade given there (its HTTP API, as
    # its page does) shows in tito's CSV and feedback, and survives regrading.
    with formgrader(course, tmp_path / "jupyter") as api:
        submitted = {nb["student"]: nb["id"] for nb in api("GET", "/formgrader/api/submitted_notebooks/02_ops/ops")}
        assert set(submitted) == {"20231", "20232", "20233"}
        grades = {g["name"]: g for g in api("GET", f"/formgrader/api/grades?submission_id={submitted['20233']}")}
        assert (grades["test-add"]["auto_score"], grades["test-add"]["manual_score"]) == (0.0, None)
        given = api("PUT", f"/formgrader/api/grade/{grades['test-add']['id']}", {"manual_score": 2})
        assert given["manual_score"] == 2.0
    run_tito("grade", "02_ops", *opts, "--student", "20233", "--timeout", "60", cwd=project)
    li = read_csv(course / "grades.csv")[("02_ops", "20233")]
    assert li["score"] == "2.0" and "manual grade test-add: 2 of 2 points (autograder: 0), given in the nbgrader formgrader" in li["reasons"]
    assert "given in the nbgrader formgrader" in (course / "feedback" / "20233" / "02_ops" / "ops.html").read_text()

    run_tito("grades", "02_ops", "--format", "moodle", *opts, cwd=project)
    moodle = list(csv.DictReader((course / "grades-02_ops-moodle.csv").open(encoding="utf-8")))
    assert {r["Email address"]: (r["ID number"], r["02_ops"]) for r in moodle} == {
        "jane@uni.edu": ("20231", "5"), "ravi@uni.edu": ("20232", "2"), "li@uni.edu": ("20233", "2")}


@contextlib.contextmanager
def formgrader(course: Path, home: Path):
    """A real Jupyter server with nbgrader's formgrader extension, in the course folder, on 127.0.0.1;
    yields a caller of its HTTP API (token auth); shut down afterwards."""
    import os
    import signal
    import urllib.request

    token = "tito-term-test"
    env = dict(os.environ, **{name: str(home / name.lower()) for name in
                              ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1", "--ServerApp.port=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}"],
        cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def api(method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read() or b"null")

    try:
        runtime = home / "jupyter_runtime_dir"
        for _ in range(600):
            found = list(runtime.glob(f"jpserver-{server.pid}.json"))
            if found:
                port = json.loads(found[0].read_text())["port"]
                try:
                    api("GET", "/api/status")
                    break
                except OSError:
                    pass
            assert server.poll() is None, "the Jupyter server exited"
            time.sleep(0.1)
        else:
            raise AssertionError("the Jupyter server did not start in 60s")
        yield api
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_a_member_that_holds_more_than_it_declares_is_refused(tmp_path: Path) -> None:
    """The size in the zip's directory is a claim (here forged): zipfile reads no more than it, tito no more
    than its own limit, and the checksum then fails: the member is refused, the others are read."""
    from tito.course.collect import read_archive

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("alice/ops.ipynb", b"x" * 1000)
        archive.writestr("bob/ops.ipynb", b"{}")
    data = bytearray(buffer.getvalue())
    central = data.index(b"PK\x01\x02")  # alice's entry in the central directory
    data[central + 24:central + 28] = (10).to_bytes(4, "little")  # declared size: 10 bytes
    forged = tmp_path / "forged.zip"
    forged.write_bytes(bytes(data))
    members, refused = read_archive(forged)
    assert [m.path for m in members] == ["bob/ops.ipynb"]
    assert len(refused) == 1 and refused[0][0] == "alice/ops.ipynb" and "Bad CRC-32" in refused[0][1], refused
