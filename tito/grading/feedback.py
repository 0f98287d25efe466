"""HTML feedback per student (nbgrader's GenerateFeedback, in-process) and the one-line reasons
that go with a score of 0 when a submission could not be graded normally."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import nbformat

from tito.course.layout import Course
from tito.grading.student_view import student_view

REASON_FILE = "grading_reason.txt"  # next to the autograded notebook; the CSV's `reasons` column reads it


def reason_cell(reason: str) -> nbformat.NotebookNode:
    """A note at the top of the autograded notebook, so the feedback says why everything is 0."""
    return nbformat.v4.new_markdown_cell(f"**Not graded: this submission scores 0.** Reason: {reason}")


def failures_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """A note for the top of the feedback: each failed test with its one-line message (which op,
    which derivative, expected vs got), so the student need not dig through tracebacks."""
    from nbgrader.utils import determine_grade, is_grade

    from tito.grading.start_here import explain_failure

    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code" and is_grade(cell):
            score, max_score = determine_grade(cell)
            if (score or 0) < max_score:
                message = explain_failure(cell, nb).replace("`", "'") or "failed"
                lines.append(f"- `{cell.metadata.nbgrader['grade_id']}` ({score or 0:g} of {max_score:g} points): `{message}`")
    if not lines:
        return None
    return nbformat.v4.new_markdown_cell("**Tests that failed** (each test's error is shown in full below):\n\n" + "\n".join(lines))


def review_cell(notes: list[str]) -> nbformat.NotebookNode:
    """A note at the top of the autograded notebook for what the grader flagged."""
    return nbformat.v4.new_markdown_cell("**Grading notes:**\n\n" + "\n".join(f"- {note}" for note in notes))


def write_reason(folder: Path, reason: str | None) -> None:
    path = folder / REASON_FILE
    if reason:
        path.write_text(reason + "\n", encoding="utf-8")
    else:
        path.unlink(missing_ok=True)


def read_reasons(course: Course) -> dict[tuple[str, str], str]:
    """(module, student) -> reason, for every autograded submission that has one."""
    reasons = {}
    for path in sorted((course.root / "autograded").glob(f"*/*/{REASON_FILE}")):
        reasons[(path.parent.name, path.parent.parent.name)] = path.read_text(encoding="utf-8").strip()
    return reasons


IMAGE_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)", re.IGNORECASE)


def feedback_exporter(parent):
    """nbconvert's HTMLExporter, made cheap for a page per student (its output unchanged otherwise):
    - code cells are highlighted once per distinct source: most cells (prose examples, the locked
      tests) are the same in every submission, and Pygments was a fifth of the cost;
    - HTMLExporter re-parses its whole page with BeautifulSoup (over half of the cost) only to add
      alt text to images and tabindex to JupyterLab-template cells; the feedback template is the
      classic one (no such cells), so only the alt text is added, by a regular expression."""
    from jinja2 import pass_context as contextfilter
    from nbconvert import filters
    from nbconvert.exporters import HTMLExporter, TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class FeedbackExporter(HTMLExporter):
        highlighted = None  # the cached highlighter, made for the first notebook's language

        def from_notebook_node(self, nb, resources=None, **kw):  # HTMLExporter's, minus its BeautifulSoup pass
            if self.highlighted is None:
                language_info = nb.metadata.get("language_info", {})
                highlight = Highlight2HTML(
                    pygments_lexer=language_info.get("pygments_lexer", language_info.get("name")), parent=self)
                self.highlighted = lru_cache(maxsize=4096)(
                    lambda source, language, magics: highlight(source, language, {"magics_language": magics} if magics else None))
                self.register_filter("highlight_code", lambda source, language=None, metadata=None: self.highlighted(
                    source, language, (metadata or {}).get("magics_language")))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return IMAGE_WITHOUT_ALT.sub('<img alt="No description has been provided for this image"', html), resources

        @contextfilter
        def markdown2html(self, context, source):
            if context.get("cell", {}).get("attachments"):
                return super().markdown2html(context, source)
            return self.markdown_page(source, context.get("resources", {}).get("metadata", {}).get("path", ""))

        @lru_cache(maxsize=4096)  # noqa: B019 -- one exporter per grading run
        def markdown_page(self, source: str, path: str) -> str:
            return HTMLExporter.markdown2html(self, {"resources": {"metadata": {"path": path}}}, source)

    exporter = FeedbackExporter(parent=parent, config=parent.config)
    exporter.optimistic_validation = True  # the notebook is validated once, after its preprocessors, not after each
    ansi2html = lru_cache(maxsize=4096)(filters.ansi2html)  # tracebacks repeat from student to student
    exporter.register_filter("ansi2html", ansi2html)
    return exporter


class FeedbackWriter:
    """nbgrader's GenerateFeedback (its GetGrades and CSS steps, its `feedback` HTML template), with
    one exporter reused for every student, so each page is written as soon as that student is
    graded, while the workers go on executing the others."""

    def __init__(self, course: Course, module_id: str) -> None:
        from nbgrader.converters import GenerateFeedback

        self.course, self.module_id = course, module_id
        app = GenerateFeedback(coursedir=course.course_directory(module_id), config=course.nbgrader_config())
        app.log.setLevel(logging.ERROR)
        self.exporter = feedback_exporter(app)
        for step in app.preprocessors:
            self.exporter.register_preprocessor(step)

    def start_here(self, nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode | None:
        """The `Start here:` cell (tito/grading/start_here.py), hints from the instructor's source notebook."""
        from tito.grading.start_here import feedback_start_here, source_hints

        return feedback_start_here(nb, source_hints(str(self.course.root / "source" / self.module_id / f"{name}.ipynb")))

    def write(self, student: str, notebooks: list[str], autograded: dict | None = None) -> list[Path]:
        """The pages of `student`'s autograded notebooks (as given in `autograded`, else read from disk)."""
        source = self.course.root / "autograded" / student / self.module_id
        target = self.course.root / "feedback" / student / self.module_id
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name in notebooks:
            resources = {
                "unique_key": name,
                "output_files_dir": f"{name}_files",
                "nbgrader": {"student": student, "assignment": self.module_id, "notebook": name,
                             "db_url": self.course.gradebook_url},
            }
            # The student's view: the autograded notebook holds the hidden tests, the page must not.
            given = (autograded or {}).get(name)
            nb = student_view(given if given is not None else nbformat.read(source / f"{name}.ipynb", as_version=4))
            summary = failures_cell(nb)
            if summary is not None:
                nb.cells.insert(0, summary)
            start = self.start_here(nb, name)
            if start is not None:  # the page begins with it
                nb.cells.insert(0, start)
            html, _ = self.exporter.from_notebook_node(nb, resources=resources)
            page = target / f"{name}.html"
            page.write_text(html, encoding="utf-8")
            written.append(page)
        return written
