"""`tito release` and everything students receive: no hidden test, no unrevealed answer, anywhere.

One real batch (the `term` fixture): every module is released; a partial submission of each (one
plausible mistake that a hidden test catches) is graded; a student installs nothing but the
distribution's tool, copies their notebooks into the distribution, exports and checks them. Every
student-facing file (release/, kit/, feedback/, student/ including its zip, and what the student's
`tito check` printed) is scanned for every line of every hidden test and every answer line of
every module. Then the instructor reveals 07_autograd: exactly 07's answers appear, and only where
the reveal puts them. The instructor's own files keep everything (the scanner is shown to find it).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_student_tito, run_tito
from pipeline_helpers import add_ops_module, answer_lines, hidden_test_lines, solution_lines, submit

from tito.notebook import read_source
from tito.project import discover_modules

sys.path.insert(0, str(ROOT / "examples"))
from sample_submissions import Mistake, filled_in, with_mistake  # noqa: E402

STUDENT = "pat"
REVEALED = "07_autograd"
# Per module, plausible mistakes that visible tests miss and hidden tests catch, each failing in
# its own way: a test's message (01), a bare `assert` without one (07), a value as message (08).
MISTAKES = {
    "01_tensor": Mistake(
        cell="as-array", old='    if array.dtype.kind == "c":\n', new="    if False:  # complex is numeric too\n",
        fails=frozenset({"test-as-array-bad-input"}), why="complex data silently cast to float32"),
    "07_autograd": Mistake(
        cell="variable-class", old="            data = Tensor(data)\n",
        new='            data = Tensor(data.astype(np.float32) if isinstance(data, np.ndarray) and data.dtype.kind in "iu" '
            "else data)\n",
        fails=frozenset({"test-variable"}), why="integer arrays become float32"),
    "08_optimizers": Mistake(
        cell="sgd-class", old="                    self.buffers[i] += g\n",
        new="                    self.buffers[i] += p.grad.data.data\n",
        fails=frozenset({"test-sgd-weight-decay"}), why="the momentum buffer forgets weight decay"),
}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TRACEBACK_PREFIX = re.compile(r"^\s*(?:-*>\s*)?\d+\s?")  # "---> 12 " / "     12 " before a quoted line
LONG = 20  # a secret line this long counts when it appears inside another line, too


def notebook_text(nb: dict) -> str:
    parts = []
    for cell in nb.get("cells", []):
        parts.append("".join(cell.get("source", "")))
        for output in cell.get("outputs", []):
            parts += ["".join(output.get("text", "")), str(output.get("evalue", "")), *output.get("traceback", [])]
            parts += ["".join(v) if isinstance(v, list) else str(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return ANSI.sub("", "\n".join(parts))


def readable(name: str, data: bytes) -> str | None:
    """What a student reads in a file: a notebook's sources and outputs, a page's text; None for data."""
    if name.endswith((".npz", ".png", ".pyc")):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if name.endswith(".ipynb"):
        return notebook_text(json.loads(text))
    if name.endswith(".html"):
        text = re.sub(r"<[^>]+>", "", text)
        return html.unescape(text)
    return text


def student_texts(path: Path) -> dict[str, str]:
    """{label: text} for every file under `path`, archives (zip, wheel) member by member."""
    texts = {}
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for file in files:
        if file.suffix in (".zip", ".whl"):
            with zipfile.ZipFile(file) as archive:
                for member in archive.namelist():
                    text = readable(member, archive.read(member))
                    if text is not None:
                        texts[f"{file}!{member}"] = text
            continue
        text = readable(file.name, file.read_bytes())
        if text is not None:
            texts[str(file)] = text
    return texts


def leaks(texts: dict[str, str], secrets: set[str]) -> dict[str, set[str]]:
    """{label: the secret lines found in it}: a whole line (a traceback's line number aside), or a
    long line anywhere inside one."""
    if not secrets:
        return {}
    long = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True) if len(s) >= LONG) or r"(?!)")
    found: dict[str, set[str]] = {}
    for label, text in texts.items():
        for line in text.splitlines():
            hits = {line.strip(), TRACEBACK_PREFIX.sub("", line).strip()} & secrets
            hits |= set(long.findall(line))
            if hits:
                found.setdefault(label, set()).update(hits)
    return found


def lines_outside_blocks(nb: nbformat.NotebookNode) -> set[str]:
    every = {line.strip() for cell in nb.cells for line in cell.source.splitlines() if line.strip()}
    return every - solution_lines(nb) - {"### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"}


def not_quoted(secrets: set[str], visible: set[str]) -> set[str]:
    """The secret lines that no visible line shows (a TODO may spell out a formula its answer uses)."""
    shown = "\n".join(visible)
    return {line for line in secrets if line not in shown}


def lines_of(notebook: Path) -> set[str]:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return {line.strip() for cell in nb["cells"] for line in "".join(cell["source"]).splitlines() if line.strip()}


@pytest.fixture(scope="module")
def term(tmp_path_factory, student_tool: Path) -> dict:
    top = tmp_path_factory.mktemp("term")
    course = top / "course"
    modules = discover_modules(ROOT)
    released = run_tito("release", "--course", str(course), cwd=ROOT)
    assert f"released {len(modules)} module(s)" in released.stdout and "student distribution: student/tinytorch-student/" in released.stdout

    # A partial submission of every module, graded as a course would.
    submitted = {}
    for module in modules:
        release = nbformat.read(course / "release" / module.id / f"{module.name}.ipynb", as_version=4)
        source = nbformat.read(course / "source" / module.id / f"{module.name}.ipynb", as_version=4)
        submitted[module.id] = submit(course, STUDENT, module.id, with_mistake(filled_in(release, source), MISTAKES[module.id]), module.name)
        run_tito("grade", module.id, "--course", str(course), "--workers", "1", "--timeout", "120", cwd=ROOT)

    # The student: the distribution as handed out, their notebooks in it, their own tool.
    home = top / "home" / "tinytorch-student"
    shutil.copytree(course / "student" / "tinytorch-student", home)
    checks, exports = {}, {}
    # The first module's notebook as handed out: every graded test fails, and Start here names a stub.
    untouched = run_student_tito(student_tool, "check", f"{modules[0].name}.ipynb", cwd=home, check=False)
    for module in modules:
        shutil.copy(submitted[module.id], home / f"{module.name}.ipynb")
        exports[module.id] = run_student_tito(student_tool, "export", f"{module.name}.ipynb", cwd=home).stdout
        checks[module.id] = run_student_tito(student_tool, "check", f"{module.name}.ipynb", cwd=home, check=False)
    milestone = run_student_tito(student_tool, "milestone", "digits", "--epochs", "1", "--out", str(top / "out"), cwd=home)

    before_reveal = {
        **{f"tito check {m}": result.stdout + result.stderr for m, result in checks.items()},
        **{label: text for folder in ("release", "kit", "feedback", "student") for label, text in student_texts(course / folder).items()},
    }
    revealed = run_tito("release", "08_optimizers", "--reveal", REVEALED, "--course", str(course), cwd=ROOT)
    after_reveal = {label: text for folder in ("release", "kit", "student") for label, text in student_texts(course / folder).items()}
    sources = {m.id: read_source(m.source) for m in modules}
    everywhere_outside = set().union(*(lines_outside_blocks(nb) for nb in sources.values()))  # not secret anywhere
    return {
        "course": course, "home": home, "modules": modules, "submitted": submitted, "checks": checks,
        "exports": exports, "untouched": untouched, "milestone": milestone.stdout, "before": before_reveal, "after": after_reveal, "reveal_stdout": revealed.stdout,
        "hidden": {m: not_quoted(hidden_test_lines(nb), everywhere_outside) for m, nb in sources.items()},
        "answers": {m: not_quoted(answer_lines(nb), everywhere_outside) for m, nb in sources.items()},
    }


def own_lines(term: dict, label: str) -> set[str]:
    """The lines of the student's own submission that their feedback or `tito check` may quote."""
    for module_id, notebook in term["submitted"].items():
        if f"/feedback/{STUDENT}/{module_id}/" in label or label == f"tito check {module_id}":
            return lines_of(notebook)
    return set()


def test_no_student_facing_file_holds_a_hidden_test_line(term: dict) -> None:
    hidden = set().union(*term["hidden"].values())
    assert len(hidden) > 50, f"too few hidden-test lines to look for: {len(hidden)}"
    found = leaks(term["before"], hidden) | leaks(term["after"], hidden)
    assert not found, "hidden tests reached students:\n" + "\n".join(f"{k}: {sorted(v)[:3]}" for k, v in found.items())
    # The scanner finds them where they belong: the instructor's autograded notebooks keep everything.
    kept = leaks(student_texts(term["course"] / "autograded" / STUDENT), hidden)
    assert len(kept) == len(term["modules"]), f"the instructor's autograded notebooks should keep the hidden tests: {kept.keys()}"


def test_no_student_facing_file_holds_an_answer_before_the_reveal(term: dict) -> None:
    for module_id, answers in term["answers"].items():
        assert len(answers) > 10, f"{module_id}: too few answer lines to look for ({len(answers)})"
        found = {label: hits for label, hits in leaks(term["before"], answers).items() if hits - own_lines(term, label)}
        assert not found, f"{module_id}'s answers reached students:\n" + "\n".join(f"{k}: {sorted(v)[:3]}" for k, v in found.items())
    # The scanner finds answers where they belong: the grading kits hold earlier modules' reference.
    grading = leaks(student_texts(term["course"] / "grading_kit"), term["answers"]["01_tensor"])
    assert any("grading_kit/07_autograd/tinytorch/core/tensor.py" in label for label in grading), grading.keys()


def test_reveal_puts_exactly_that_modules_answers_where_students_get_them(term: dict) -> None:
    course = term["course"]
    assert "revealed modules: 07_autograd" in term["reveal_stdout"], term["reveal_stdout"]
    assert (course / "revealed_modules.txt").read_text(encoding="utf-8").splitlines()[-1] == REVEALED
    showing = {module_id for module_id, answers in term["answers"].items() if leaks(term["after"], answers)}
    assert showing == {REVEALED}, f"after --reveal {REVEALED}, answers of {sorted(showing)} reach students"
    where = set(leaks(term["after"], term["answers"][REVEALED]))
    expected = {
        str(course / "student" / "tinytorch-student" / "tinytorch" / "core" / "autograd.py"),
        f"{course / 'student' / 'tinytorch-student.zip'}!tinytorch-student/tinytorch/core/autograd.py",
        str(course / "kit" / "08_optimizers" / "tinytorch" / "core" / "autograd.py"),
    }
    assert where == expected, f"07's answers appear in {sorted(where)}"
    reference = (ROOT / "tinytorch" / "core" / "autograd.py").read_bytes()
    assert (course / "student" / "tinytorch-student" / "tinytorch" / "core" / "autograd.py").read_bytes() == reference


def test_feedback_shows_a_failing_hidden_test_by_name_points_and_message(term: dict) -> None:
    feedback = term["course"] / "feedback" / STUDENT
    page = student_texts(feedback / "01_tensor" / "tensor.html")[str(feedback / "01_tensor" / "tensor.html")]
    summary = page[page.index("Tests that failed"):]
    assert "test-as-array-bad-input (0 of 5 points)" in summary, summary[:600]
    assert ("as_array(2j) without dtype: expected TypeError, but nothing was raised "
            "(hidden test 7 of test-as-array-bad-input)") in page, "the hidden test's own message should be shown"
    page = student_texts(feedback / "07_autograd" / "autograd.html")[str(feedback / "07_autograd" / "autograd.html")]
    assert "test-variable (0 of 5 points): AssertionError: hidden test 2 of test-variable failed" in page, (
        "a bare assert in a hidden test has no message of its own: a neutral one replaces its source line")
    page = student_texts(feedback / "08_optimizers" / "optimizers.html")[str(feedback / "08_optimizers" / "optimizers.html")]
    assert re.search(r"test-sgd-weight-decay \(0 of 5 points\): AssertionError: \[1\.\d+\] \(hidden test \d+ of test-sgd-weight-decay\)", page)
    for module in term["modules"]:  # the instructor's notebook keeps the hidden tests and their sources
        autograded = (term["course"] / "autograded" / STUDENT / module.id / f"{module.name}.ipynb").read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" in autograded


def test_the_students_own_tool_exports_and_checks_in_the_distribution(term: dict, student_tool: Path) -> None:
    home = term["home"]
    for module in term["modules"]:
        written = home / "tinytorch" / (module.default_exp.replace(".", "/") + ".py")
        assert f"-> {written}" in term["exports"][module.id]
        assert "NotImplementedError()" not in written.read_text(encoding="utf-8"), f"{written} still holds stubs"
        check = term["checks"][module.id]
        assert re.search(r"^total: \d+/\d+ points, \d+ of \d+ tests failed$", check.stdout, re.MULTILINE), check.stdout
    # The visible tests pass (hidden ones catch these mistakes) in the student's own environment.
    assert "PASS  test-as-array-bad-input" in term["checks"]["01_tensor"].stdout
    assert re.search(r"PASS  test-variable +5/5", term["checks"]["07_autograd"].stdout), term["checks"]["07_autograd"].stdout
    # Their milestone trains with their own exports.
    assert f"milestone digits: training with {home / 'tinytorch'}" in term["milestone"], term["milestone"]
    assert re.search(r"^digits: test accuracy \d+\.\d\d%", term["milestone"], re.MULTILINE), term["milestone"]
    # Start here works in the student's own tool: its re-run needs the verifier, shipped with it.
    first_line = term["untouched"].stdout.splitlines()[0]
    assert re.match(r"Start here: `\w+` \(cell [\w-]+\) is not written yet", first_line), term["untouched"].stdout[:2000]
    # The tool is what check, export and milestone run (check's Start-here re-run included): nothing of
    # release or grading, no catalogue of mistakes.
    shipped = {p.relative_to(term["course"] / "student").as_posix() for p in (term["course"] / "student").rglob("*.py")}
    tool = {name.split("/tool/", 1)[1] for name in shipped if "/tool/" in name}
    assert {"tito/student/cli.py", "tito/student/check.py", "tito/grading/student_view.py", "tito/sandbox/verifier.py",
            "tito/sandbox/diagnosis.py", "tito/sandbox/jail.py"} <= tool, tool
    assert not {name for name in shipped if re.search(r"(grade|gradebook|feedback|release|kit|mistakes|mutate)\.py$", name)}
    # Installed: the tool and JupyterLab; never tinytorch, never nbgrader.
    probe = subprocess.run([str(student_tool / "python"), "-c",
                            "import importlib.util as u; print([m for m in ('tinytorch', 'nbgrader', 'jupyterlab', 'hypothesis', 'tito') if u.find_spec(m)])"],
                           cwd=home.parent, capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == "['jupyterlab', 'hypothesis', 'tito']", probe.stdout + probe.stderr


def test_what_students_read_names_no_file_they_lack(term: dict) -> None:
    distribution = term["course"] / "student" / "tinytorch-student"
    mentioned = re.compile(r"`([\w./-]+\.(?:py|ipynb|npz|json|png|md|csv|txt))`")
    readable = [*distribution.glob("*.ipynb"), *distribution.glob("*.md"), *(distribution / "tinytorch").rglob("*.py")]
    assert len(readable) >= len(term["modules"]) * 2 + 1
    checked = 0
    for path in sorted(readable):
        text = student_texts(path)[str(path)]
        for name in set(mentioned.findall(text)) - {"NOTEBOOK.ipynb"}:
            assert (distribution / name).exists() or list(distribution.rglob(Path(name).name)), (
                f"{path.name} names {name}, which the student distribution does not have")
            checked += 1
    assert checked > 0, "no file name found in what students read: the pattern no longer matches"


@pytest.mark.parametrize("module", discover_modules(ROOT), ids=lambda m: m.id)
def test_release_has_stubs_and_checksummed_locked_tests(term: dict, module) -> None:
    released = term["course"]
    nb = nbformat.read(released / "release" / module.id / f"{module.name}.ipynb", as_version=4)
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert solutions and all("raise NotImplementedError()" in c.source for c in solutions)
    assert tests and all(c.metadata.nbgrader.get("checksum") and c.metadata.get("editable") is False for c in tests)
    assert list((released / "source" / module.id).iterdir()) == [released / "source" / module.id / f"{module.name}.ipynb"]
    assert not list(released.rglob("*_dev.py")), "a _dev.py source reached the course folder"


def test_rerunning_release_replaces_it(tmp_path: Path) -> None:
    module = discover_modules(ROOT)[0]
    course = tmp_path / "course"
    run_tito("release", module.name, "--course", str(course), cwd=ROOT)
    notebook = course / "release" / module.id / f"{module.name}.ipynb"
    kit_notebook = course / "kit" / module.id / f"{module.name}.ipynb"
    original = notebook.read_text(encoding="utf-8")
    notebook.write_text("edited by hand", encoding="utf-8")
    kit_notebook.write_text("edited by hand", encoding="utf-8")
    run_tito("release", module.name, "--course", str(course), cwd=ROOT)
    assert notebook.read_text(encoding="utf-8") == original
    assert kit_notebook.read_text(encoding="utf-8") == original


def test_kits_stub_earlier_modules_until_revealed_and_take_the_students_export(project_copy: Path, tmp_path: Path) -> None:
    add_ops_module(project_copy)
    course = tmp_path / "course"
    run_tito("release", "ops", "--course", str(course), cwd=project_copy)
    kit, grading = course / "kit" / "02_ops", course / "grading_kit" / "02_ops"
    reference_tensor = (project_copy / "tinytorch" / "core" / "tensor.py").read_text(encoding="utf-8")
    # Grading runs against the earlier module's reference; the student's kit holds it as stubs.
    assert (grading / "tinytorch" / "core" / "tensor.py").read_text(encoding="utf-8") == reference_tensor
    stub_tensor = (kit / "tinytorch" / "core" / "tensor.py").read_text(encoding="utf-8")
    assert "raise NotImplementedError()" in stub_tensor and stub_tensor != reference_tensor
    # 01 was never released in this course: its stubs come from its source, solutions cleared.
    tensor_source = read_source(project_copy / "modules" / "source" / "01_tensor" / "tensor_dev.py")
    secrets = not_quoted(solution_lines(tensor_source), lines_outside_blocks(tensor_source))
    assert len(secrets) > 10 and not leaks({"tensor.py": stub_tensor}, secrets), leaks({"tensor.py": stub_tensor}, secrets)
    for package in (kit, grading):
        stubbed = (package / "tinytorch" / "core" / "ops.py").read_text(encoding="utf-8")
        assert stubbed.count("raise NotImplementedError()") == 2 and "a.data + b.data" not in stubbed
    assert not (kit / "tensor.ipynb").exists() and (kit / "README.md").is_file(), "the stubs' notebook is not left behind"
    assert not (course / "kit" / "01_tensor").exists(), "only the modules released get a kit"

    # Revealed, the earlier module's reference is in the kit; the student exports their own ops.
    run_tito("release", "ops", "--reveal", "tensor", "--course", str(course), cwd=project_copy)
    assert (kit / "tinytorch" / "core" / "tensor.py").read_text(encoding="utf-8") == reference_tensor
    nb = nbformat.read(kit / "ops.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            name = "add" if "def add" in cell.source else "mul"
            body = "    return Tensor(a.data + b.data + 0)" if name == "add" else "    return Tensor(b.data * a.data)"
            cell.source = cell.source.split("    # YOUR CODE HERE")[0] + body
    nbformat.write(nb, kit / "ops.ipynb")
    result = run_tito("export", "ops.ipynb", cwd=kit)
    assert str(kit / "tinytorch" / "core" / "ops.py") in result.stdout
    exported = (kit / "tinytorch" / "core" / "ops.py").read_text(encoding="utf-8")
    assert "a.data + b.data + 0" in exported and "NotImplementedError" not in exported
    probe = ("import tinytorch; from tinytorch.core.ops import add, mul; from tinytorch.core.tensor import Tensor\n"
             "print(tinytorch.__file__); print([float(x) for x in mul(add(Tensor([1]), Tensor([2])), Tensor([2])).data.tolist()])")
    ran = subprocess.run([sys.executable, "-c", probe], cwd=kit, capture_output=True, text=True, timeout=120)
    assert ran.stdout.splitlines() == [str(kit / "tinytorch" / "__init__.py"), "[6.0]"], ran.stdout + ran.stderr


def test_student_export_outside_a_kit_says_so(tmp_path: Path) -> None:
    notebook = tmp_path / "lonely.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("#| default_exp core.lonely\n#| export\nX = 1")])
    nbformat.write(nb, notebook)
    result = run_tito("export", str(notebook), cwd=tmp_path, check=False)
    assert result.returncode == 1 and "no tinytorch/ package next to" in result.stderr, result.stderr
