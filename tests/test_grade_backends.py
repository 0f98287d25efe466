"""`tito grade --db-url` into a real PostgreSQL server and `--scheduler` on a real Dask cluster give
the same gradebook as local grading into sqlite."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_tito
from postgres_server import postgres_server

from tito.course.layout import Course
from tito.grading.gradebook import gradebook_rows
from tito.project import select_modules

sys.path.insert(0, str(ROOT / "examples"))
import sample_submissions as samples  # noqa: E402

MODULE = select_modules(ROOT, [samples.SAMPLE_MODULE])[0]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, list[tuple]]:
    """The samples (but the slow timeout and loops ones) graded locally into sqlite."""
    course = tmp_path_factory.mktemp("baseline") / "course"
    run_tito("release", MODULE.id, "--course", str(course), cwd=ROOT)
    samples.build_samples(course, MODULE.id)
    for slow in ("timeout", "loops"):
        shutil.rmtree(course / "submitted" / slow)
    run_tito("grade", MODULE.id, "--course", str(course), "--workers", "2", "--timeout", "60", cwd=ROOT)
    rows = gradebook_rows(Course(course), MODULE.id)
    assert {row[0] for row in rows} == set(samples.SAMPLES) - {"timeout", "loops"}
    return course, rows


def fresh_course_with_submissions(baseline_course: Path, target: Path, *release_args: str) -> Path:
    run_tito("release", MODULE.id, "--course", str(target), *release_args, cwd=ROOT)
    shutil.copytree(baseline_course / "submitted", target / "submitted")
    return target


def test_postgres_gradebook_matches_sqlite(baseline, tmp_path: Path) -> None:
    import sqlalchemy

    baseline_course, baseline_rows = baseline
    with postgres_server() as url:
        course = fresh_course_with_submissions(baseline_course, tmp_path / "course", "--db-url", url)
        result = run_tito("grade", MODULE.id, "--course", str(course), "--db-url", url, "--timeout", "60", cwd=ROOT)
        assert "perfect" in result.stdout
        assert gradebook_rows(Course(course, url), MODULE.id) == baseline_rows
        engine = sqlalchemy.create_engine(url)
        with engine.connect() as connection:
            graded = connection.execute(sqlalchemy.text("select count(*) from grade")).scalar()
        engine.dispose()
        assert graded == len(baseline_rows), "the grades are not in PostgreSQL"
    assert not (course / "gradebook.db").exists(), "grading with --db-url also wrote a sqlite gradebook"


def test_dask_scheduler_gradebook_matches_local(baseline, tmp_path: Path) -> None:
    from dask.distributed import Client, LocalCluster

    from tito.grading.execute import execute_submission, read_kit

    baseline_course, baseline_rows = baseline
    course = fresh_course_with_submissions(baseline_course, tmp_path / "course")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = run_tito(
            "grade", MODULE.id, "--course", str(course), "--scheduler", cluster.scheduler_address, "--timeout", "60", cwd=ROOT
        )
        assert "perfect" in result.stdout
        assert gradebook_rows(Course(course), MODULE.id) == baseline_rows

        # A task that runs twice (a worker restarted) gives the same answer and changes nothing else.
        perfect = course / "submitted" / "perfect" / MODULE.id / f"{MODULE.name}.ipynb"
        task = {
            "student": "perfect",
            "notebooks": {MODULE.name: perfect.read_text(encoding="utf-8")},
            "kit": read_kit(course / "grading_kit" / MODULE.id / "tinytorch"),
            "timeout": 60,
        }
        with Client(cluster.scheduler_address) as client:
            first, second = client.gather([client.submit(execute_submission, task, pure=False) for _ in range(2)])
    assert graded_outcome(first) == graded_outcome(second)  # whole notebooks differ: module 01 prints timings
    assert first["notebooks"][MODULE.name]["reason"] is None


def graded_outcome(result: dict) -> dict:
    """Per notebook: its reason, and for each graded cell whether it has an error output."""
    import nbformat

    outcome = {}
    for name, run in result["notebooks"].items():
        nb = nbformat.reads(run["notebook"], as_version=4) if run["notebook"] else None
        cells = {} if nb is None else {
            c.metadata["nbgrader"]["grade_id"]: any(o.output_type == "error" for o in c.outputs)
            for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
        }
        outcome[name] = (run["reason"], cells)
    return outcome
