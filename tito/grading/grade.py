"""`tito grade MODULE`: autograde every `submitted/*/MODULE/` in parallel into nbgrader's gradebook.

One coordinator (this process) alone reads and writes the gradebook: it sanitizes each submission
with nbgrader's rules, hands the notebooks to workers as plain data, and records what comes back.
Workers (threads here, each driving one kernel at a time, or Dask tasks) only execute notebooks in
scratch folders with the grading kit's stubbed `tinytorch`. A submission that cannot be read,
times out, crashes or kills its kernel scores 0 with a one-line reason; the batch always completes.

Every result comes with the sandbox report of the machine that ran it (tito/grading/execute.py).
A result that ran without the full sandbox is refused, never recorded: the message names the
worker, and `tito grade` exits 1. Only `--allow-unsandboxed` accepts such results, and then every
row they make says so in `reasons` and in its feedback.
"""

from __future__ import annotations

import gc
import json
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

from tito.course.kit import grading_package
from tito.course.layout import Course, put_own_bin_on_path
from tito.grading import gradebook as gb
from tito.grading.cpu import CpuMeter
from tito.grading.execute import DEFAULT_CELL_TIMEOUT, execute_submission, read_kit, warm_starter_cpu
from tito.grading.feedback import FeedbackWriter, read_reasons, reason_cell, review_cell, write_reason
from tito.grading.review import reapply_overrides, set_note_cell, with_override_notes
from tito.grading.start_here import keep_diagnosis
from tito.lifetime import Stopped, signals_deferred, stop_kernels
from tito.progress import Progress
from tito.project import Module, TitoError
from tito.sandbox.caps import DEFAULT_MEMORY
from tito.sandbox.sandbox import support
from tito.sandbox.verdict import apply_verdict, graded_ids, trusted_imports, verifier_input


@dataclass
class Submission:
    student: str
    folder: Path  # submitted/<student>/<module>/
    sanitized: dict[str, nbformat.NotebookNode] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # notebook -> why it scores 0
    deleted: dict[str, list[str]] = field(default_factory=dict)  # notebook -> graded cells the student deleted
    autograded: dict[str, nbformat.NotebookNode] = field(default_factory=dict)  # as recorded, for its feedback page


@dataclass
class GradeReport:
    module: str
    rows: list[tuple[str, float | None, float, str]]  # student, score (None: not graded), max score, reason
    csv: Path
    seconds: float
    refused: list[str] = field(default_factory=list)  # one line per worker whose results were refused
    cpu: CpuMeter = field(default_factory=CpuMeter)  # where the CPU went, by phase


def find_submissions(course: Course, module_id: str) -> list[Submission]:
    folders = sorted(p for p in (course.root / "submitted").glob(f"*/{module_id}") if p.is_dir())
    return [Submission(student=folder.parent.name, folder=folder) for folder in folders]


def prepare(course: Course, config, submission: Submission, module_id: str, notebooks: list[str]) -> None:
    """Gradebook rows, then each notebook read and sanitized, or its reason for scoring 0."""
    with gb.one_transaction(course):
        gb.start_submission(course, module_id, submission.student, submission.folder)
    for name in notebooks:
        path = submission.folder / f"{name}.ipynb"
        if not path.is_file():
            found = sorted(p.name for p in submission.folder.glob("*.ipynb"))
            instead = f"; found {', '.join(found)} instead" if found else "; it holds no notebook"
            submission.reasons[name] = f"no {name}.ipynb in the submission{instead} (`tito collect` takes renamed notebooks)"
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
    # Plain JSON: validated when read, then changed by nbgrader's own preprocessors only.
    notebooks = {name: json.dumps(nb) for name, nb in submission.sanitized.items()}
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


def timed_execution(task: dict) -> dict:
    """execute_submission, with this worker thread's own CPU in the result ("worker_cpu")."""
    began = time.thread_time()
    result = execute_submission(task)
    result["worker_cpu"] = time.thread_time() - began
    return result


class LocalWorkers:
    """`workers` threads, each driving one sandboxed run at a time (the CPU work is in those processes)."""

    def __init__(self, workers: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.futures: dict = {}

    def submit(self, task: dict) -> None:
        self.futures[self.pool.submit(timed_execution, task)] = task

    def results(self) -> Iterator[tuple[dict, dict]]:
        return outcomes(self.futures, as_completed(self.futures))

    def close(self) -> None:
        self.pool.shutdown()

    def abandon(self, stopping: bool) -> None:
        """Queued tasks are dropped. If tito is `stopping`, running kernels and verifiers are killed
        too, so each worker ends its task at once (and removes its scratch folder)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if stopping:
            stop_kernels()


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

    def abandon(self, stopping: bool) -> None:  # noqa: ARG002 -- running tasks end on their workers
        self.client.cancel(list(self.futures))


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
        extra = (results.get(name) or {}).get("notes", [])  # cells that ran past the cell timeout, no sandbox
        notes += extra
        if reason is None:
            # Built by the worker from the sanitized notebook and outputs rebuilt to nbformat's schema
            # (tito/grading/execute.py: notebook_output): no second validation needed.
            nb = nbformat.from_dict(json.loads(results[name]["notebook"]))
            found = apply_verdict(nb, results[name].get("verdict"), submission.deleted.get(name, []))
            keep_diagnosis(nb, results[name].get("verdict"))  # for the feedback's Start-here line
            notes += found
            if found or extra:
                nb.cells.insert(0, review_cell(extra + found))
        else:
            # Record zeros on the structure nbgrader knows: the sanitized submission, else the release.
            nb = submission.sanitized.get(name) or gb.sanitize(
                course, config, nbformat.read(course.root / "release" / module_id / f"{name}.ipynb", as_version=4),
                module_id, submission.student, name,
            )
            nb = gb.zero_graded_cells(nb, reason)
        nb = gb.record(course, config, nb, module_id, submission.student, name)
        tito_notes = reapply_overrides(course, module_id, submission.student, name)
        notes += tito_notes[:1] if tito_notes and tito_notes[0].startswith("late by") else []
        set_note_cell(nb, "term", "Notes on this grade", tito_notes)
        if reason:
            if extra:
                nb.cells.insert(0, review_cell(extra))
            nb.cells.insert(0, reason_cell(reason))
        nbformat.write(nb, target / f"{name}.ipynb")
        submission.autograded[name] = nb
    reason = "; ".join([*(submission.reasons[n] for n in notebooks if n in submission.reasons), *notes])
    write_reason(target, reason)
    return reason


def finish_safely(course: Course, config, submission: Submission, module_id: str, notebooks: list[str], results: dict) -> str:
    """`finish`, and if recording itself breaks on this submission, record it as 0 with that reason:
    one broken submission never stops the batch. Each attempt is one gradebook transaction."""
    try:
        with gb.one_transaction(course):
            return finish(course, config, submission, module_id, notebooks, results)
    except Exception as error:
        reason = f"could not be recorded ({type(error).__name__}: {first_line(error)})"
        submission.sanitized.clear()
        submission.reasons = {name: reason for name in notebooks}
        with gb.one_transaction(course):
            return finish(course, config, submission, module_id, notebooks, {})


def late_notes(course: Course, module_id: str, student: str, notebook: str) -> list[str]:
    """'late by 2h 13m: -3 points' when nbgrader found the submission late (its penalty, after the cap)."""
    from tito.course.deadlines import lateness

    with gb.gradebook(course) as book:
        submission = book.find_submission(module_id, student)
        seconds = submission.total_seconds_late
        if seconds <= 0:
            return []
        penalty = book.find_submission_notebook(notebook, module_id, student).late_submission_penalty or 0.0
    return [f"late by {lateness(seconds)}: -{penalty:g} points"]


def is_failure(reason: str) -> bool:
    """A reason beyond lateness (a late submission that graded normally is no failure)."""
    return any(part and not part.startswith("late by") for part in reason.split("; "))


def forget_unfinished(course: Course, module_id: str, students: list[str]) -> None:
    """A stopped run: the submission rows made when these students' work was prepared go, since
    their grades never came (a re-run grades them). Never hides the error that stopped the run."""
    try:
        with signals_deferred():
            gb.forget_submissions(course, module_id, students)
    except Exception as error:
        print(f"tito grade: could not remove the ungraded submissions of {', '.join(students)} from the gradebook: "
              f"{type(error).__name__}: {first_line(error)}", file=sys.stderr)


def sandbox_problem(result: dict) -> str | None:
    """Why a worker's result did not run in the full sandbox (None if it did)."""
    report = result["sandbox"] if isinstance(result["sandbox"], dict) else {"mode": result["sandbox"]}
    if result.get("refused"):
        return result["refused"]
    if report.get("mode") != "namespaces":
        why = "; ".join(report.get("missing") or []) or f"mode {report.get('mode')}"
        return f"worker {report.get('worker', '?')} ran it without the sandbox ({why})"
    return None


def refusal_lines(refused: dict[str, list[str]]) -> list[str]:
    """One line per worker problem, naming the students whose results were not recorded."""
    return [f"{problem}: the result(s) of {', '.join(sorted(students))} were NOT recorded"
            for problem, students in sorted(refused.items())]


def grade_module(
    course: Course, module: Module, workers: int, timeout: float, scheduler: str | None = None, feedback: bool = True,
    students: list[str] | None = None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT, memory: int = DEFAULT_MEMORY, allow_unsandboxed: bool = False,
) -> GradeReport:
    try:
        with gb.one_gradebook(course):  # opened once for the run; each submission is one transaction
            return grade_each(course, module, workers, timeout, scheduler, feedback, students, cell_timeout, memory,
                              allow_unsandboxed)
    finally:
        gc.unfreeze()


def grade_each(
    course: Course, module: Module, workers: int, timeout: float, scheduler: str | None, feedback: bool,
    students: list[str] | None, cell_timeout: float, memory: int, allow_unsandboxed: bool,
) -> GradeReport:
    started = time.monotonic()
    meter = CpuMeter()
    meter.add("start-up", time.process_time())  # this process so far: Python, imports, the command line
    put_own_bin_on_path()
    # SQLAlchemy 2.1 warns "Object of type <SubmittedAssignment> not in session" inside nbgrader: cosmetic.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    config = course.nbgrader_config()
    notebooks = gb.assignment_notebooks(course, module.id)
    package = grading_package(course, module)  # earlier modules: reference; this one: stubs
    if not (package / "__init__.py").is_file():
        raise TitoError(f"no grading kit at {package}; run `tito release {module.id}` first")
    kit = read_kit(package)
    imports = trusted_imports(
        [nbformat.read(course.root / "source" / module.id / f"{n}.ipynb", as_version=4) for n in notebooks],
        module.default_exp and f"tinytorch.{module.default_exp}",
    )
    sandbox = support()
    if not scheduler and sandbox.mode != "namespaces" and not allow_unsandboxed:
        raise TitoError(f"this machine cannot build the grading sandbox: {'; '.join(sandbox.missing)}. "
                        "Student code will not run unsandboxed: grade as root on Linux with util-linux `unshare` "
                        "(`tito doctor` shows what is missing), or pass --allow-unsandboxed (every row will say so)")
    if sandbox.missing and not scheduler:
        print(f"tito grade: WARNING: {sandbox.warning()}", file=sys.stderr)
    limits = {"cell_timeout": cell_timeout, "memory": memory, "allow_unsandboxed": allow_unsandboxed}
    submissions = find_submissions(course, module.id)
    if not submissions:
        raise TitoError(f"no submissions under {course.root / 'submitted'}/*/{module.id}/")
    if students:
        missing = sorted(set(students) - {s.student for s in submissions})
        if missing:
            raise TitoError(f"no submission of {module.id} from {', '.join(missing)} under {course.root / 'submitted'}; "
                            f"students with one: {', '.join(s.student for s in submissions)}")
        submissions = [s for s in submissions if s.student in students]

    progress = Progress(len(submissions), f"grading {module.id}")
    writer = FeedbackWriter(course, module.id) if feedback else None
    problems: list[str] = []

    def done(submission: Submission, reason: str) -> None:
        recorded.add(submission.student)
        if writer:
            try:
                with meter.phase("feedback"):
                    writer.write(submission.student, notebooks, submission.autograded)
            except Exception as error:  # the grade is recorded; only its page is missing
                problems.append(f"no feedback for {submission.student}: {type(error).__name__}: {first_line(error)}")
        progress.advance(failed=is_failure(reason))

    recorded: set[str] = set()  # students whose grades are in: they stay, whatever happens next
    graded_before = gb.submitted_students(course, module.id)
    by_student = {}
    refused: dict[str, list[str]] = {}  # worker problem -> students whose results were refused
    pool = DaskWorkers(scheduler) if scheduler else LocalWorkers(workers)
    meter.add("set-up", time.thread_time() - meter.started)  # the gradebook, the kit, the release read
    # What the set-up made lives as long as the run (nbconvert, nbgrader, SQLAlchemy, the exporter: some
    # 160,000 objects); the garbage collector's full passes then skip it (gc.unfreeze at the end).
    gc.freeze()
    try:
        for submission in submissions:  # workers start on the first while the rest are prepared
            try:
                with signals_deferred(), meter.phase("prepare"):
                    prepare(course, config, submission, module.id, notebooks)
            except Exception as error:  # recorded as 0 below, with this reason
                submission.sanitized.clear()
                reason = f"could not be prepared ({type(error).__name__}: {first_line(error)})"
                submission.reasons = {name: reason for name in notebooks}
            by_student[submission.student] = submission
            with meter.phase("prepare"):
                task = task_for(submission, kit, timeout, imports)
            if task:
                task.update(limits)
                pool.submit(task)
            else:  # nothing runnable: record the zeros now
                with signals_deferred():
                    with meter.phase("record"):
                        reason = finish_safely(course, config, submission, module.id, notebooks, {})
                    done(submission, reason)
        for task, result in pool.results():
            submission = by_student[task["student"]]
            meter.add("workers", result.get("worker_cpu", 0.0))
            meter.add("runs", sum(o.get("cpu") or 0.0 for o in result.get("notebooks", {}).values()))
            problem = sandbox_problem(result) if "sandbox" in result else None  # without: the task itself failed
            if problem and (result.get("refused") or not allow_unsandboxed):
                refused.setdefault(problem, []).append(submission.student)
                progress.advance(failed=True)
                continue
            if problem:  # accepted with --allow-unsandboxed: every row it makes says so
                for outcome in result["notebooks"].values():
                    outcome.setdefault("notes", []).insert(0, f"graded WITHOUT the sandbox: {problem}")
            with signals_deferred():  # a stop (SIGTERM, SIGHUP, Ctrl-C) waits until this one is recorded whole
                with meter.phase("record"):
                    reason = finish_safely(course, config, submission, module.id, notebooks, result["notebooks"])
                done(submission, reason)
            submission.autograded.clear()  # its page is written: nothing more to keep
            submission.sanitized.clear()
    except BaseException as error:  # stopped (or broken): only whole records stay
        pool.abandon(stopping=isinstance(error, KeyboardInterrupt))
        forget_unfinished(course, module.id, [s for s in by_student if s not in recorded and s not in graded_before])
        if isinstance(error, Stopped):
            error.note = (f"{len(recorded)} of {len(submissions)} submissions recorded; "
                          f"run `tito grade {module.id}` again to grade the rest")
        raise
    finally:
        pool.close()
    for problem in problems:
        print(f"tito grade: {problem}", file=sys.stderr)
    # A refused result records nothing: a student graded before keeps that grade, one never graded has no row.
    forget_unfinished(course, module.id, [s for students in refused.values() for s in students if s not in graded_before])
    with signals_deferred(), meter.phase("csv"):  # grades.csv is written whole
        reasons = with_override_notes(course, read_reasons(course))
        for problem, students in refused.items():
            for student in students:
                reasons[(module.id, student)] = f"NOT GRADED: refused, {problem}"
        csv_path = course.root / "grades.csv"
        graded = {s.student for s in submissions}
        rows = [
            (row["student_id"], float(row["score"]) if row["score"] else None, float(row["max_score"]), row[gb.CSV_REASONS])
            for row in gb.export_csv(course, reasons, csv_path)
            if row["assignment"] == module.id and row["student_id"] in graded
        ]
    meter.add("warm starter", warm_starter_cpu())
    return GradeReport(module.id, rows, csv_path, time.monotonic() - started, refusal_lines(refused), meter)


def format_table(report: GradeReport) -> str:
    width = max([len("student"), *(len(r[0]) for r in report.rows)])
    lines = [f"{'student':<{width}}  {'score':>11}  reason"]
    for student, score, max_score, reason in report.rows:
        shown = "-" if score is None else f"{score:g}"
        lines.append(f"{student:<{width}}  {shown:>5} / {max_score:<3g}  {reason}".rstrip())
    return "\n".join(lines)
