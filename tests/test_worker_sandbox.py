"""A real Dask worker that cannot build the sandbox (its PATH lacks util-linux `unshare`): `tito doctor
--scheduler` names it, `tito grade --scheduler` refuses its results (exit 1, nothing recorded as if
sandboxed), and with --allow-unsandboxed records them with the fact in `reasons` and the feedback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from pipeline_helpers import read_csv

from tito.course.layout import Course
from tito.grading.gradebook import gradebook_rows
from tito.project import select_modules

sys.path.insert(0, str(ROOT / "examples"))
import sample_submissions as samples  # noqa: E402

MODULE = select_modules(ROOT, [samples.SAMPLE_MODULE])[0]


def path_without_unshare(folder: Path) -> str:
    """A PATH with every program of /usr/bin and /usr/sbin but `unshare` (the venv's bin first)."""
    programs = folder / "bin"
    programs.mkdir()
    for system in (Path("/usr/bin"), Path("/usr/sbin")):
        for program in system.iterdir():
            if program.name != "unshare" and not (programs / program.name).exists():
                (programs / program.name).symlink_to(program)
    return f"{Path(sys.executable).parent}{os.pathsep}{programs}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and one worker process started with that PATH; yields (scheduler, worker address)."""
    from dask.distributed import Client, LocalCluster

    folder = tmp_path_factory.mktemp("worker")
    with LocalCluster(n_workers=0, processes=True, dashboard_address=None) as scheduler:
        env = dict(os.environ, PATH=path_without_unshare(folder))
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "dask"), "worker", scheduler.scheduler_address, "--nworkers", "1",
             "--nthreads", "1", "--no-dashboard", "--name", "no-unshare"],
            env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            with Client(scheduler.scheduler_address) as client:
                client.wait_for_workers(1, timeout=120)
                (address,) = client.scheduler_info()["workers"]
            yield scheduler.scheduler_address, address
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("unsandboxed") / "course"
    run_tito("release", MODULE.id, "--course", str(course), cwd=ROOT)
    release = nbformat.read(course / "release" / MODULE.id / f"{MODULE.name}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / MODULE.id / f"{MODULE.name}.ipynb", as_version=4)
    folder = course / "submitted" / "perfect" / MODULE.id
    folder.mkdir(parents=True)
    nbformat.write(samples.filled_in(release, source), folder / f"{MODULE.name}.ipynb")
    return course


def test_doctor_names_the_worker_that_cannot_build_the_sandbox(cluster) -> None:
    scheduler, address = cluster
    result = run_tito("doctor", "--scheduler", scheduler, cwd=ROOT, check=False)
    assert result.returncode == 1, result.stdout
    assert f"worker      {address} (" in result.stdout and "): sandbox limits" in result.stdout, result.stdout
    assert f"problem: worker {address} cannot build the sandbox (util-linux `unshare` not found" in result.stdout


def test_grading_refuses_unsandboxed_results_then_records_them_only_when_allowed(cluster, course) -> None:
    scheduler, address = cluster
    refused = run_tito("grade", MODULE.id, "--course", str(course), "--scheduler", scheduler, cwd=ROOT, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"REFUSED: worker {address} on " in refused.stderr, refused.stderr
    assert "util-linux `unshare` not found" in refused.stderr and "NOT recorded" in refused.stderr
    assert gradebook_rows(Course(course), MODULE.id) == [], "a refused result left a row in the gradebook"
    assert read_csv(course / "grades.csv")[(MODULE.id, "perfect")]["reasons"].startswith("NOT GRADED: refused, worker")
    autograded = course / "autograded" / "perfect" / MODULE.id
    assert not (autograded / f"{MODULE.name}.ipynb").exists()

    allowed = run_tito("grade", MODULE.id, "--course", str(course), "--scheduler", scheduler, "--allow-unsandboxed",
                       cwd=ROOT)
    row = read_csv(course / "grades.csv")[(MODULE.id, "perfect")]
    assert float(row["score"]) == float(row["max_score"]) > 0, allowed.stdout
    said = f"graded WITHOUT the sandbox: worker {address} on "
    assert row["reasons"].startswith(said) and "`unshare` not found" in row["reasons"], row["reasons"]
    feedback = (course / "feedback" / "perfect" / MODULE.id / f"{MODULE.name}.html").read_text(encoding="utf-8")
    assert said in feedback, "the feedback does not say the grading ran without the sandbox"
    shutil.rmtree(course / "autograded")
