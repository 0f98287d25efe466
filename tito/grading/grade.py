"""`tito grade MODULE`: autograde every `submitted/*/MODULE/` in parallel into nbgrader's gradebook.

One coordinator (this process) alone reads and writes the gradebook: it sanitizes each submission
with nbgrader's rules, hands the notebooks to workers as plain data, and records what comes back.
Workers (threads here, each driving one kernel at a time, or Dask tasks) only execute notebooks in
scratch folders with the grading kit's stubbed `tinytorch`. A submission that cannot be read,
times out, crashes or kills its kernel scores 0 with a one-line reason; the batch always completes.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tito.course.layout import Course, put_own_bin_on_path
from tito.grading import gradebook as gb
from tito.grading.execute import execute_submission, read_kit
from tito.grading.feedback import FeedbackWriter, read_reasons, reason_cell, review_cell, write_reason
from tito.grading.start_here import keep_diagnosis
from tito.progress import Progress
from tito.project import Module, TitoError
from tito.sandbox.sandbox import support
from tito.sandbox.verdict import apply_verdict, graded_ids, trusted_imports, verifier_input


@dataclass
class Submission:
    student: str
    folder: Path  # submitted/<student>/<module>/
    sanitized: dict[str, nbformat.NotebookNode] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # notebook -> why it scores 0
    deleted: dict[str, list[str]] = field(default_factory=dict)  # notebook -> graded cells the student deleted


@dataclass
class GradeReport:
    module: str
    rows: list[tuple[str, float, float, str]]  # student, score, max score, reason
    csv: Path
    seconds: float


def find_submissions(course: Course, module_id: str) -> list[Submission]:
    folders = sorted(p for p in (course.root / "submitted").glob(f"*/{module_id}") if p.is_dir())
    return [Submission(student=folder.parent.name, folder=folder) for folder in folders]


def prepare(course: Course, config, submission: Submission, module_id: str, notebooks: list[str]) -> None:
    """Gradebook rows, then each notebook read and sanitized, or its reason for scoring 0."""
    gb.start_submission(course, module_id, submission.student, submission.folder)
    for name in notebooks:
        path = submission.folder / f"{name}.ipynb"
        if not path.is_file():
            submission.reasons[name] = f"no {name}.ipynb in the submission"
            continue
        try:
            nb = nbformat.reads(path.read_text(encoding="utf-8", errors="replace"), as_version=4)
        except Exception as error:  # not JSON, not a notebook: nothing to run
            what = "not valid JSON" if "JSON" in type(error).__name__ else f"not a valid notebook ({first_line(error)})"
            submission.reasons[name] = f"{name}.ipynb is {what}"
            continue
        submitted_tests = set(graded_ids(nb))
        try:
            submission.sanitized[name] = gb.sanitize(course, config, nb, module_id, submission.student, name)
            submission.deleted[name] = [g for g in graded_ids(submission.sanitized[name]) if g not in submitted_tests]
        except Exception as error:
            submission.reasons[name] = f"{name}.ipynb has corrupted nbgrader metadata ({first_line(error)})"


def first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0].strip()[:160] if lines else type(error).__name__


def task_for(submission: Submission, kit: dict[str, str], timeout: float, imports: dict) -> dict | None:
    notebooks = {name: nbformat.writes(nb) for name, nb in submission.sanitized.items()}
    if not notebooks:
        return None
    verify = {name: verifier_input(nb, imports) for name, nb in submission.sanitized.items()}
    return {"student": submission.student, "notebooks": notebooks, "kit": kit, "timeout": timeout, "verify": verify}


def failed_result(task: dict, error: BaseException) -> dict:
    reason = f"grading task failed: {type(error).__name__}: {first_line(error)}"
    return {"student": task["student"], "notebooks": {n: {"notebook": None, "reason": reason} for n in task["notebooks"]}}


def outcomes(futures: dict, completed) -> Iterator[tuple[dict, dict]]:
    """(task, result) for each future as it completes; a task that raised scores 0 with the reason."""
    for future in completed:
        task = futures[future]
        try:
            yield task, future.result()
        except Exception as error:
            yield task, failed_result(task, error)


class LocalWorkers:
    """`workers` threads, each driving one kernel at a time (the CPU work is in the kernels)."""

    def __init__(self, workers: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.futures: dict = {}

    def submit(self, task: dict) -> None:
        self.futures[self.pool.submit(execute_submission, task)] = task

    def results(self) -> Iterator[tuple[dict, dict]]:
        return outcomes(self.futures, as_completed(self.futures))

    def close(self) -> None:
        self.pool.shutdown()


class DaskWorkers(LocalWorkers):
    """The same tasks on a Dask distributed cluster; results come back here, to the coordinator."""

    def __init__(self, scheduler: str) -> None:
        from dask.distributed import Client

        self.client = Client(scheduler)
        self.futures = {}

    def submit(self, task: dict) -> None:
        # A key unique to this run: two runs (or two modules) never share a Dask result.
        future = self.client.submit(execute_submission, task, key=f"tito-grade-{task['student']}-{uuid.uuid4().hex}")
        self.futures[future] = task

    def results(self) -> Iterator[tuple[dict, dict]]:
        from dask.distributed import as_completed as dask_completed

        return outcomes(self.futures, dask_completed(list(self.futures)))

    def close(self) -> None:
        self.client.close()


def autograded_folder(course: Course, submission: Submission, module_id: str) -> Path:
    """autograded/<student>/<module>/: the submitted files, as nbgrader makes it (replaced on re-runs)."""
    target = course.root / "autograded" / submission.student / module_id
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(submission.folder, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.ipynb"))
    return target


def finish(course: Course, config, submission: Submission, module_id: str, notebooks: list[str], results: dict) -> str:
    """Record every notebook of one submission; returns its reason for scoring 0 ('' if none)."""
    target = autograded_folder(course, submission, module_id)
    for name, outcome in results.items():
        if outcome["reason"]:
            submission.reasons[name] = outcome["reason"]
    notes = []
    for name in notebooks:
        reason = submission.reasons.get(name)
        if reason is None:
            nb = nbformat.reads(results[name]["notebook"], as_version=4)
            found = apply_verdict(nb, results[name].get("verdict"), submission.deleted.get(name, []))
            keep_diagnosis(nb, results[name].get("verdict"))  # for the feedback's Start-here line
            notes += found
            if found:
                nb.cells.insert(0, review_cell(found))
        else:
            # Record zeros on the structure nbgrader knows: the sanitized submission, else the release.
            nb = submission.sanitized.get(name) or gb.sanitize(
                course, config, nbformat.read(course.root / "release" / module_id / f"{name}.ipynb", as_version=4),
                module_id, submission.student, name,
            )
            nb = gb.zero_graded_cells(nb, reason)
        nb = gb.record(course, config, nb, module_id, submission.student, name)
        if reason:
            nb.cells.insert(0, reason_cell(reason))
        nbformat.write(nb, target / f"{name}.ipynb")
    reason = "; ".join([*(submission.reasons[n] for n in notebooks if n in submission.reasons), *notes])
    write_reason(target, reason)
    return reason


def finish_safely(course: Course, config, submission: Submission, module_id: str, notebooks: list[str], results: dict) -> str:
    """`finish`, and if recording itself breaks on this submission, record it as 0 with that reason:
    one broken submission never stops the batch."""
    try:
        return finish(course, config, submission, module_id, notebooks, results)
    except Exception as error:
        reason = f"could not be recorded ({type(error).__name__}: {first_line(error)})"
        submission.sanitized.clear()
        submission.reasons = {name: reason for name in notebooks}
        return finish(course, config, submission, module_id, notebooks, {})


def grade_module(
    course: Course, module: Module, workers: int, timeout: float, scheduler: str | None = None, feedback: bool = True
) -> GradeReport:
    started = time.monotonic()
    put_own_bin_on_path()
    # SQLAlchemy 2.1 warns "Object of type <SubmittedAssignment> not in session" inside nbgrader: cosmetic.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    config = course.nbgrader_config()
    notebooks = gb.assignment_notebooks(course, module.id)
    package = course.kit(module) / "tinytorch"
    if not (package / "__init__.py").is_file():
        raise TitoError(f"no grading kit at {package}; run `tito release {module.id}` first")
    kit = read_kit(package)
    imports = trusted_imports(
        [nbformat.read(course.root / "source" / module.id / f"{n}.ipynb", as_version=4) for n in notebooks],
        module.default_exp and f"tinytorch.{module.default_exp}",
    )
    sandbox = support()
    if sandbox.missing:
        print(f"tito grade: WARNING: {sandbox.warning()}", file=sys.stderr)
    submissions = find_submissions(course, module.id)
    if not submissions:
        raise TitoError(f"no submissions under {course.root / 'submitted'}/*/{module.id}/")

    progress = Progress(len(submissions), f"grading {module.id}")
    writer = FeedbackWriter(course, module.id) if feedback else None
    problems: list[str] = []

    def done(submission: Submission, reason: str) -> None:
        if writer:
            try:
                writer.write(submission.student, notebooks)
            except Exception as error:  # the grade is recorded; only its page is missing
                problems.append(f"no feedback for {submission.student}: {type(error).__name__}: {first_line(error)}")
        progress.advance(failed=bool(reason))

    pool = DaskWorkers(scheduler) if scheduler else LocalWorkers(workers)
    try:
        by_student = {}
        for submission in submissions:  # workers start on the first while the rest are prepared
            try:
                prepare(course, config, submission, module.id, notebooks)
            except Exception as error:  # recorded as 0 below, with this reason
                submission.sanitized.clear()
                reason = f"could not be prepared ({type(error).__name__}: {first_line(error)})"
                submission.reasons = {name: reason for name in notebooks}
            by_student[submission.student] = submission
            task = task_for(submission, kit, timeout, imports)
            if task:
                pool.submit(task)
            else:  # nothing runnable: record the zeros now
                done(submission, finish_safely(course, config, submission, module.id, notebooks, {}))
        for task, result in pool.results():
            submission = by_student[task["student"]]
            done(submission, finish_safely(course, config, submission, module.id, notebooks, result["notebooks"]))
    finally:
        pool.close()
    for problem in problems:
        print(f"tito grade: {problem}", file=sys.stderr)
    reasons = read_reasons(course)
    csv_path = course.root / "grades.csv"
    graded = {s.student for s in submissions}
    rows = [
        (row["student_id"], float(row["score"]), float(row["max_score"]), row[gb.CSV_REASONS])
        for row in gb.export_csv(course, reasons, csv_path)
        if row["assignment"] == module.id and row["student_id"] in graded
    ]
    return GradeReport(module.id, rows, csv_path, time.monotonic() - started)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def format_table(report: GradeReport) -> str:
    width = max([len("student"), *(len(r[0]) for r in report.rows)])
    lines = [f"{'student':<{width}}  {'score':>11}  reason"]
    for student, score, max_score, reason in report.rows:
        lines.append(f"{student:<{width}}  {score:>5g} / {max_score:<3g}  {reason}".rstrip())
    return "\n".join(lines)
