"""nbgrader's rules and gradebook, driven by the grading coordinator alone (one writer: sqlite-safe).

The same preprocessors `nbgrader autograde` runs, split where it executes: before execution
(`sanitize`: outputs cleared, kernelspec forced, locked cells restored from their checksums,
deleted test cells put back), and after it (`record`: scores into the gradebook, late penalties).
Only the execution in between happens elsewhere, in parallel (tito/grading/execute.py).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat

from tito.course.layout import COURSE_ID, Course, put_own_bin_on_path
from tito.project import TitoError

CSV_REASONS = "reasons"


def sanitize_steps() -> list:
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    return [ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]


def record_steps() -> list:
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    return [IgnorePattern, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]


def share_engines() -> None:
    """nbgrader opens a new Gradebook, and so a new SQLAlchemy engine, in every preprocessor call;
    SQLAlchemy caches compiled SQL per engine, so each call compiled every query again (most of the
    coordinator's time). Give nbgrader one engine per database URL instead. Only the coordinator's
    thread uses them."""
    import nbgrader.api as api

    if getattr(api.create_engine, "shared_by_tito", False):
        return
    engines: dict = {}
    create = api.create_engine

    def shared_engine(url, **options):
        key = (str(url), tuple(sorted(options.items())))
        if key not in engines:
            engines[key] = create(url, **options)
        return engines[key]

    shared_engine.shared_by_tito = True
    api.create_engine = shared_engine


# Modules that open nbgrader Gradebooks by the name `Gradebook` (nbgrader's preprocessors each open their own).
OPENERS = ("nbgrader.api", "nbgrader.preprocessors.saveautogrades", "nbgrader.preprocessors.latesubmissions",
           "nbgrader.preprocessors.overwritecells", "nbgrader.preprocessors.overwritekernelspec",
           "nbgrader.preprocessors.getgrades")


@contextmanager
def one_gradebook(course: Course) -> Iterator[None]:
    """For a grading run: every `Gradebook(url)` opened for this course's database, by tito or by
    nbgrader's preprocessors, is one Gradebook, opened once. (Opening one checks every table of the
    schema and closing it disposes of the connection pool: nine times per submission before.) The
    coordinator's thread alone uses it; `one_transaction` groups its writes per submission."""
    import importlib

    from nbgrader.api import Gradebook

    url = course.gradebook_url
    book = gradebook(course)
    book.close = lambda: None  # closed once, at the end of the run
    look_up_per_notebook(book)

    def opened(db_url: str, *args, **kwargs):
        return book if db_url == url else Gradebook(db_url, *args, **kwargs)

    modules = [importlib.import_module(name) for name in OPENERS]
    for module in modules:
        module.Gradebook = opened
    _open_books[url] = book
    try:
        yield
    finally:
        del _open_books[url]
        for module in modules:
            module.Gradebook = Gradebook
        del book.close
        book.close()


_open_books: dict = {}  # gradebook URL -> the one Gradebook of the grading run now going on


def look_up_per_notebook(book) -> None:
    """nbgrader's preprocessors look each cell up on its own: `find_source_cell` and
    `find_graded_cell` (sanitizing), `find_grade` and `find_comment` (recording, feedback), a
    join of up to seven tables each, one query per cell. Here the first lookup in a notebook loads
    all its rows of that kind with one query, and the others are answered from them: the same
    objects of the same session, nbgrader's order of cell types kept. What was loaded is forgotten
    at every commit and rollback, so nothing stale is ever returned; a name not found is left to
    nbgrader's own method (and its error)."""
    from nbgrader.api import (
        Assignment,
        BaseCell,
        Comment,
        Grade,
        GradeCell,
        Notebook,
        SourceCell,
        Student,
        SubmittedAssignment,
        SubmittedNotebook,
        TaskCell,
    )
    from sqlalchemy import event
    from sqlalchemy.orm import undefer

    loaded: dict = {}

    def submitted(model, notebook: str, assignment: str, student: str) -> dict:
        """(cell name, cell type) -> the Grade or Comment of that cell in one submitted notebook."""
        key = (model.__name__, notebook, assignment, student)
        if key not in loaded:
            query = book.db.query(model, BaseCell.name, BaseCell.type)
            if model is Grade:  # its points, which nbgrader's feedback reads, would be one more query per grade
                query = query.options(undefer(Grade.max_score))
            rows = (query
                    .join(BaseCell, BaseCell.id == model.cell_id)
                    .join(SubmittedNotebook, SubmittedNotebook.id == model.notebook_id)
                    .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                    .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                    .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                    .join(Student, Student.id == SubmittedAssignment.student_id)
                    .filter(Notebook.name == notebook, Assignment.name == assignment, Student.id == student).all())
            loaded[key] = {(name, kind): row for row, name, kind in rows}
        return loaded[key]

    def released(model, notebook: str, assignment: str) -> dict:
        """cell name -> the SourceCell, GradeCell or TaskCell of that name in a notebook of the release."""
        key = (model.__name__, notebook, assignment)
        if key not in loaded:
            rows = (book.db.query(model).join(Notebook, Notebook.id == model.notebook_id)
                    .join(Assignment, Assignment.id == Notebook.assignment_id)
                    .filter(Notebook.name == notebook, Assignment.name == assignment).all())
            loaded[key] = {row.name: row for row in rows}
        return loaded[key]

    def first(found, fallback, *args):
        return next((hit for hit in found if hit is not None), None) or fallback(*args)

    find_grade, find_comment = book.find_grade, book.find_comment
    find_source_cell, find_graded_cell = book.find_source_cell, book.find_graded_cell

    def grade_of(cell: str, notebook: str, assignment: str, student: str):
        rows = submitted(Grade, notebook, assignment, student)
        return first((rows.get((cell, "GradeCell")), rows.get((cell, "TaskCell"))), find_grade, cell, notebook, assignment, student)

    def comment_of(cell: str, notebook: str, assignment: str, student: str):
        rows = submitted(Comment, notebook, assignment, student)
        return first((rows.get((cell, "SolutionCell")), rows.get((cell, "TaskCell"))), find_comment, cell, notebook, assignment,
                     student)

    def source_cell_of(name: str, notebook: str, assignment: str):
        return first((released(SourceCell, notebook, assignment).get(name),), find_source_cell, name, notebook, assignment)

    def graded_cell_of(name: str, notebook: str, assignment: str):
        return first((released(GradeCell, notebook, assignment).get(name), released(TaskCell, notebook, assignment).get(name)),
                     find_graded_cell, name, notebook, assignment)

    session = book.db()
    for moment in ("after_commit", "after_soft_rollback"):
        event.listen(session, moment, lambda *_: loaded.clear())
    book.find_grade, book.find_comment = grade_of, comment_of
    book.find_source_cell, book.find_graded_cell = source_cell_of, graded_cell_of


@contextmanager
def one_transaction(course: Course) -> Iterator[None]:
    """Inside `one_gradebook`: the commits nbgrader makes (one per graded cell, one per solution cell)
    only flush, and one commit at the end writes them all, or a rollback undoes them all: a
    submission is recorded whole or not at all. Outside a grading run it changes nothing."""
    book = _open_books.get(course.gradebook_url)
    if book is None or "commit" in vars(book.db):  # no grading run, or already inside a transaction
        yield
        return
    book.db.commit = book.db.flush
    try:
        yield
    except BaseException:
        del book.db.commit
        book.db.rollback()
        raise
    del book.db.commit
    book.db.commit()


def gradebook(course: Course):  # -> nbgrader.api.Gradebook
    from nbgrader.api import Gradebook

    put_own_bin_on_path()  # a new gradebook runs `alembic`
    share_engines()
    return Gradebook(course.gradebook_url, COURSE_ID)


def assignment_notebooks(course: Course, module_id: str) -> list[str]:
    """The notebook names nbgrader knows for `module_id`; an error naming the fix if none."""
    from nbgrader.api import MissingEntry

    with gradebook(course) as gb:
        try:
            names = [notebook.name for notebook in gb.find_assignment(module_id).notebooks]
        except MissingEntry:
            names = []
    if not names:
        same_db = f" --db-url {course.db_url}" if course.db_url else ""
        raise TitoError(
            f"{module_id} is not in the gradebook {course.gradebook_url}; run `tito release {module_id}{same_db}` first"
        )
    return sorted(names)


def start_submission(course: Course, module_id: str, student: str, folder: Path) -> None:
    """Student and submission rows, as nbgrader autograde makes them (timestamp.txt for lateness)."""
    timestamp = course.course_directory(module_id, student).get_existing_timestamp(str(folder))
    with gradebook(course) as gb:
        gb.update_or_create_student(student)
        if timestamp:
            gb.update_or_create_submission(module_id, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(module_id, student)


def resources(course: Course, module_id: str, student: str, notebook: str) -> dict:
    return {
        "unique_key": notebook,
        "nbgrader": {"student": student, "assignment": module_id, "notebook": notebook, "db_url": course.gradebook_url},
    }


class SchemaCheckedOnce:
    """Stands in for the `jsonschema` module inside nbgrader's metadata validator.

    nbgrader checks each cell's metadata with `jsonschema.validate(metadata, schema)`, which first
    re-validates nbgrader's own schema against the JSON Schema meta-schema: about 90% of the cost
    of CheckCellMetadata, for every cell of every notebook, twice per submission. Here each schema
    is checked once and its validator reused; each cell is validated exactly as before."""

    KEEP = 8  # nbgrader loads the schema anew for each notebook; only the recent ones are reused

    def __init__(self, jsonschema) -> None:
        self.jsonschema = jsonschema
        self.validators: dict[int, tuple[dict, object]] = {}  # id(schema) -> (schema kept alive, validator)

    def validate(self, instance, schema) -> None:
        entry = self.validators.get(id(schema))
        if entry is None:
            cls = self.jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            entry = self.validators[id(schema)] = (schema, cls(schema))
            while len(self.validators) > self.KEEP:
                del self.validators[next(iter(self.validators))]
        error = self.jsonschema.exceptions.best_match(entry[1].iter_errors(instance))
        if error is not None:
            raise error

    def __getattr__(self, name: str):
        return getattr(self.jsonschema, name)


def check_schemas_once() -> None:
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, SchemaCheckedOnce):
        common.jsonschema = SchemaCheckedOnce(common.jsonschema)


def run_steps(steps: list, config, nb: nbformat.NotebookNode, res: dict) -> nbformat.NotebookNode:
    check_schemas_once()
    for step in steps:
        nb, res = step(config=config)(nb, res)
    return nb


def sanitize(course: Course, config, nb: nbformat.NotebookNode, module_id: str, student: str, notebook: str):
    return run_steps(sanitize_steps(), config, nb, resources(course, module_id, student, notebook))


def record(course: Course, config, nb: nbformat.NotebookNode, module_id: str, student: str, notebook: str):
    return run_steps(record_steps(), config, nb, resources(course, module_id, student, notebook))


def zero_graded_cells(nb: nbformat.NotebookNode, reason: str) -> nbformat.NotebookNode:
    """Give every graded code cell an error output carrying `reason`: nbgrader then scores it 0
    (an unexecuted cell without outputs would otherwise get full marks)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = [
                nbformat.v4.new_output("error", ename="NotGraded", evalue=reason, traceback=[f"NotGraded: {reason}"])
            ]
    return nb


def gradebook_rows(course: Course, module_id: str) -> list[tuple]:
    """Every grade nbgrader holds for `module_id`, for comparing two gradebooks."""
    with gradebook(course) as gb:
        rows = []
        for submission in gb.assignment_submissions(module_id):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    rows.append(
                        (submission.student_id, notebook.name, grade.name, grade.auto_score, grade.manual_score,
                         grade.max_score, grade.needs_manual_grade)
                    )
        return sorted(rows)


def export_csv(course: Course, reasons: dict[tuple[str, str], str], target: Path) -> list[dict[str, str]]:
    """nbgrader export's CSV (its own plugin, every assignment) plus a `reasons` column."""
    from nbgrader.plugins.export import CsvExportPlugin

    with tempfile.TemporaryDirectory() as folder, gradebook(course) as gb:
        plain = Path(folder) / "grades.csv"
        CsvExportPlugin(to=str(plain)).export(gb)
        with open(plain, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows, columns = list(reader), list(reader.fieldnames or [])
        submitted = {(a.name, s.student.id) for a in gb.assignments for s in a.submissions}
    rows = graded_rows_only(rows, submitted, {module for module, _ in reasons})
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*columns, CSV_REASONS], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            row[CSV_REASONS] = reasons.get((row["assignment"], row["student_id"]), row.get(CSV_REASONS, ""))
            writer.writerow(row)
    return rows


def graded_rows_only(rows: list[dict[str, str]], submitted: set[tuple[str, str]],
                     attempted: set[str] = frozenset()) -> list[dict[str, str]]:
    """nbgrader export writes a 0 for every student in every assignment, graded or not. Keep only the
    modules graded so far (or `attempted`: tito has a reason for one of their students, e.g. a refused
    result); in them, a student without a submission gets blank scores, not 0."""
    graded_modules = {module for module, _ in submitted} | set(attempted)
    kept = []
    for row in rows:
        if row["assignment"] not in graded_modules:
            continue
        if (row["assignment"], row["student_id"]) not in submitted:
            row.update(raw_score="", late_submission_penalty="", score="", timestamp="")
            row[CSV_REASONS] = "no submission"
        kept.append(row)
    return kept


def submitted_students(course: Course, module_id: str) -> set[str]:
    """Students the gradebook already holds a submission of `module_id` for."""
    with gradebook(course) as gb:
        return {submission.student_id for submission in gb.assignment_submissions(module_id)}


def forget_submissions(course: Course, module_id: str, students: list[str]) -> None:
    """Remove the submission rows `start_submission` made for students whose grades were never
    recorded (a stopped run): the gradebook then holds only submissions graded whole."""
    from nbgrader.api import MissingEntry

    if not students:
        return
    with gradebook(course) as gb:
        for student in students:
            try:
                gb.remove_submission(module_id, student)
            except MissingEntry:
                pass
