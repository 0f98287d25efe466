"""`tito grade`: real nbgrader gradebook, real kernels, the bundled samples, parallel == serial, re-runs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_tito
from pipeline_helpers import add_ops_module, cell_scores, read_csv, submit

from tito.course.layout import Course
from tito.grading.gradebook import gradebook, gradebook_rows
from tito.notebook import read_source
from tito.project import discover_modules, select_modules

sys.path.insert(0, str(ROOT / "examples"))
import sample_submissions as samples  # noqa: E402

MODULE = select_modules(ROOT, [samples.SAMPLE_MODULE])[0]
TIMEOUT = str(samples.SAMPLE_TIMEOUT)
CELL_TIMEOUT = str(samples.SAMPLE_CELL_TIMEOUT)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, object]:
    """All modules released, the samples built from the release and graded with 2 workers."""
    course = tmp_path_factory.mktemp("graded") / "course"
    run_tito("release", "--course", str(course), cwd=ROOT)
    samples.build_samples(course, MODULE.id)
    result = run_tito("grade", MODULE.id, "--course", str(course), "--workers", "2", "--timeout", TIMEOUT,
                      "--cell-timeout", CELL_TIMEOUT, cwd=ROOT)
    return course, result


def expected_samples() -> dict[str, tuple[float, str]]:
    """sample -> (score, a phrase its reason contains; '' for no reason). For `loops`, the score is a
    floor: the points of every test before its last solution cell, where its endless loop is."""
    points = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
        for c in read_source(MODULE.source).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    full = float(sum(points.values()))
    lost = float(sum(points[g] for g in samples.MISTAKES[MODULE.id].fails))
    last_solution = samples.last_solution(read_source(MODULE.source)).metadata["nbgrader"]["grade_id"]
    return {
        "perfect": (full, ""),
        "partial": (full - lost, ""),
        "untouched": (0.0, ""),
        "timeout": (0.0, f"timed out after {float(TIMEOUT):g}s"),
        "crash": (0.0, "the kernel died"),
        "garbled": (0.0, "is not valid JSON"),
        "loops": (float(sum(points[g] for g in graded_before(last_solution))),
                  f"cell {last_solution} ran past {float(CELL_TIMEOUT):g} s (interrupted)"),
    }


def graded_before(grade_id: str) -> list[str]:
    cells = [c.metadata.get("nbgrader", {}) for c in read_source(MODULE.source).cells]
    ids = [meta.get("grade_id") for meta in cells]
    return [meta["grade_id"] for meta in cells[:ids.index(grade_id)] if meta.get("grade")]


def test_each_sample_gets_its_expected_score_and_reason(graded) -> None:
    course, result = graded
    rows = read_csv(course / "grades.csv")
    for student, (score, reason) in expected_samples().items():
        row = rows[(MODULE.id, student)]
        if student == "loops":  # at least every test before the runaway cell, and not all of them
            assert score <= float(row["score"]) < float(row["max_score"]), f"loops: {row['score']} ({row['reasons']!r})"
        else:
            assert float(row["score"]) == score, f"{student}: expected {score}, got {row['score']} ({row['reasons']!r})"
        if reason:
            assert reason in row["reasons"] and "\n" not in row["reasons"], f"{student}: reason {row['reasons']!r}"
        else:
            assert row["reasons"] == "", f"{student}: unexpected reason {row['reasons']!r}"
    for student in expected_samples():
        assert f"\n{student} " in "\n" + result.stdout, f"grade table lacks {student}:\n{result.stdout}"


def test_csv_has_nbgrader_export_columns_plus_reasons(graded) -> None:
    course, _ = graded
    header = (course / "grades.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == (
        "assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,"
        "late_submission_penalty,score,max_score,reasons"
    )


def test_progress_and_feedback(graded) -> None:
    course, result = graded
    total = len(samples.SAMPLES)
    final = [line for line in result.stderr.splitlines() if f" {total}/{total} " in line]
    assert final and "failed 4" in final[-1] and "/min" in final[-1], result.stderr  # loops has a reason too
    for student in samples.SAMPLES:
        html = course / "feedback" / student / MODULE.id / f"{MODULE.name}.html"
        assert html.is_file(), f"no feedback for {student}"
    crash = (course / "feedback" / "crash" / MODULE.id / f"{MODULE.name}.html").read_text(encoding="utf-8")
    assert "Not graded: this submission scores 0." in crash and "the kernel died" in crash


def test_regrading_is_idempotent(graded) -> None:
    course, _ = graded
    before_rows = gradebook_rows(Course(course), MODULE.id)
    before_csv = (course / "grades.csv").read_text(encoding="utf-8")
    run_tito("grade", MODULE.id, "--course", str(course), "--workers", "2", "--timeout", TIMEOUT,
                      "--cell-timeout", CELL_TIMEOUT, cwd=ROOT)
    assert gradebook_rows(Course(course), MODULE.id) == before_rows
    assert (course / "grades.csv").read_text(encoding="utf-8") == before_csv
    with gradebook(Course(course)) as gb:
        assert len(gb.assignment_submissions(MODULE.id)) == len(samples.SAMPLES), "duplicate submissions"


def test_parallel_and_serial_grading_give_identical_gradebooks(graded, tmp_path: Path) -> None:
    course, _ = graded
    serial = tmp_path / "serial"
    run_tito("release", MODULE.id, "--course", str(serial), cwd=ROOT)
    shutil.copytree(course / "submitted", serial / "submitted")
    run_tito("grade", MODULE.id, "--course", str(serial), "--workers", "1", "--timeout", TIMEOUT,
             "--cell-timeout", CELL_TIMEOUT, cwd=ROOT)
    parallel_rows = gradebook_rows(Course(course), MODULE.id)
    assert len(parallel_rows) == len(samples.SAMPLES) * len(cell_scores(course, MODULE.id, "perfect"))
    assert gradebook_rows(Course(serial), MODULE.id) == parallel_rows


@pytest.mark.parametrize("module", discover_modules(ROOT), ids=lambda m: m.id)
def test_source_scores_full_marks_and_release_scores_zero_on_every_graded_cell(module, tmp_path: Path) -> None:
    course = tmp_path / "course"
    run_tito("release", module.id, "--course", str(course), cwd=ROOT)
    submit(course, "reference", module.id, course / "source" / module.id / f"{module.name}.ipynb", module.name)
    submit(course, "release", module.id, course / "release" / module.id / f"{module.name}.ipynb", module.name)
    run_tito("grade", module.id, "--course", str(course), "--timeout", "120", cwd=ROOT)
    reference, release = cell_scores(course, module.id, "reference"), cell_scores(course, module.id, "release")
    assert reference and set(reference) == set(release)
    for grade_id, (score, max_score) in reference.items():
        assert score == max_score, f"source notebook: {grade_id} scored {score} of {max_score}"
        assert release[grade_id][0] == 0, f"untouched release: {grade_id} scored {release[grade_id][0]}"


def test_richer_module_restores_edited_and_deleted_tests(project_copy: Path, tmp_path: Path) -> None:
    """Two graded cells, an import of the earlier module's export, and nbgrader's rules:
    an edited locked test is restored from its checksum, a deleted one is put back."""
    add_ops_module(project_copy)
    course = tmp_path / "course"
    run_tito("release", "--course", str(course), cwd=project_copy)
    source = nbformat.read(course / "source" / "02_ops" / "ops.ipynb", as_version=4)
    submit(course, "reference", "02_ops", source, "ops")
    submit(course, "release", "02_ops", course / "release" / "02_ops" / "ops.ipynb", "ops")
    release = nbformat.read(course / "release" / "02_ops" / "ops.ipynb", as_version=4)
    cheat = nbformat.from_dict(release)
    for cell in cheat.cells:  # stubs left in place; the tests "edited" to pass and one deleted
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test-add":
            cell.source = "pass"
    cheat.cells = [c for c in cheat.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test-mul"]
    submit(course, "cheat", "02_ops", cheat, "ops")
    run_tito("grade", "02_ops", "--course", str(course), "--workers", "2", "--timeout", "120", cwd=project_copy)
    assert cell_scores(course, "02_ops", "reference") == {"test-add": (2.0, 2.0), "test-mul": (3.0, 3.0)}
    assert cell_scores(course, "02_ops", "release") == {"test-add": (0.0, 2.0), "test-mul": (0.0, 3.0)}
    assert cell_scores(course, "02_ops", "cheat") == {"test-add": (0.0, 2.0), "test-mul": (0.0, 3.0)}


def test_grading_without_a_release_names_the_fix(tmp_path: Path) -> None:
    result = run_tito("grade", MODULE.id, "--course", str(tmp_path / "empty"), cwd=ROOT, check=False)
    assert result.returncode == 1
    assert f"run `tito release {MODULE.id}` first" in result.stderr and "Traceback" not in result.stderr


def test_a_submission_cannot_import_the_reference_answers(tmp_path: Path) -> None:
    """A student who imports the module's answers from `tinytorch` instead of writing them gets the
    kit's stubs, not the reference the instructor's environment has installed."""
    import subprocess

    package = "tinytorch." + MODULE.default_exp
    import ast

    tree = ast.parse(MODULE.package_file(ROOT).read_text(encoding="utf-8"))
    names = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets)
    ][0]
    assert names, f"{MODULE.id} exports nothing to import"
    premise = subprocess.run(
        [sys.executable, "-c", f"from {package} import {names[0]}; print('reference importable')"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert "reference importable" in premise.stdout, "this test needs the reference package installed"

    course = tmp_path / "course"
    run_tito("release", MODULE.id, "--course", str(course), cwd=ROOT)
    release = nbformat.read(course / "release" / MODULE.id / f"{MODULE.name}.ipynb", as_version=4)
    importer = nbformat.from_dict(release)
    last_solution = max(i for i, c in enumerate(importer.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    importer.cells.insert(last_solution + 1, nbformat.v4.new_code_cell(f"from {package} import *"))
    submit(course, "importer", MODULE.id, importer, MODULE.name)
    run_tito("grade", MODULE.id, "--course", str(course), "--timeout", "120", cwd=ROOT)
    scores = cell_scores(course, MODULE.id, "importer")
    assert scores and all(score == 0 for score, _ in scores.values()), f"imported answers earned points: {scores}"
