"""The student distribution in real JupyterLab, driven in Debian's headless Chromium by Playwright.

The student's side only: the instructor releases 01_tensor and 07_autograd; the student unpacks
the distribution, has the environment its README installs (the `student_tool` fixture: the tool,
JupyterLab, no nbgrader, no tinytorch), has finished 01 (`tito export tensor.ipynb` with their own
tito), and starts JupyterLab from that environment in their folder. No nbgrader menu or sidebar is
on the page. They open autograd.ipynb, run everything and meet the first stub; type an
implementation of `Variable.__init__` into its TODO cell, run again and see that cell's graded test
pass; save; their `tito check` on the saved file agrees. A screenshot is kept in `artifacts/`
(git-ignored). Nothing here is skipped: a missing browser or package is a failure that says how to
install it (`make test` installs both).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_student_tito, run_tito

sys.path.insert(0, str(ROOT / "examples"))
from sample_submissions import filled_in  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
# Without the networking flags Chromium's connections are refused on these machines.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
MODULE, NOTEBOOK, TODO_CELL, GRADED_CELL, NEXT_GRADED_CELL = (
    "07_autograd", "autograd.ipynb", "variable-class", "test-variable", "test-add",
)
STUB = "        # YOUR CODE HERE\n        raise NotImplementedError()\n"
# What the student types in place of the stub: their own Variable.__init__, not the reference.
STUDENT_INIT = """\
        if isinstance(data, Variable):
            data = data.data
        if not isinstance(data, Tensor):
            kind = np.asarray(data).dtype.kind
            if kind not in REAL_KINDS:
                raise TypeError(f"Variable needs numbers, got {type(data).__name__} (dtype kind {kind!r})")
            data = Tensor(data)
        self.data = data
        self.requires_grad = requires_grad
        self.grad = None
        self.grad_fn = grad_fn
"""
WAIT_MS = 120_000


def require_browser_tools() -> None:
    """Fail (not skip) with the fix when the browser or Playwright is missing."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (`apt-get install chromium`, or run `make test`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        pytest.fail(f"Python Playwright is missing ({error}): `pip install -e '.[test]'` (or run `make test`)")


@pytest.fixture
def kit(tmp_path: Path, student_tool: Path) -> Path:
    """The student's folder: the distribution as handed out, with their finished 01 exported."""
    course = tmp_path / "course"
    run_tito("release", "01_tensor", MODULE, "--course", str(course), cwd=ROOT)
    folder = tmp_path / "home" / "tinytorch-student"
    shutil.copytree(course / "student" / "tinytorch-student", folder)
    release = nbformat.read(folder / "tensor.ipynb", as_version=4)
    nbformat.write(filled_in(release, nbformat.read(course / "source" / "01_tensor" / "tensor.ipynb", as_version=4)),
                   folder / "tensor.ipynb")
    run_student_tito(student_tool, "export", "tensor.ipynb", cwd=folder)
    return folder


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def jupyterlab(kit: Path, tmp_path: Path, student_tool: Path) -> Iterator[str]:
    """The student environment's JupyterLab on loopback serving their folder, with its own
    config/data/runtime dirs; its URL base."""
    home = tmp_path / "jupyter"
    env = dict(os.environ, PATH=f"{student_tool}{os.pathsep}{os.environ['PATH']}",
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"))
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab"
    write_json(settings / "apputils-extension" / "notification.jupyterlab-settings", {"fetchNews": "false"})
    # Every cell stays in the page (no virtual scrolling), so cell N of the file is cell N on screen.
    write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
    token = secrets.token_hex(16)
    log = open(home / "server.log", "w")  # noqa: SIM115 (closed in the finally below)
    env.pop("PYTHONPATH", None)
    server = subprocess.Popen(
        [str(student_tool / "python"), "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", "--ServerApp.port=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={kit}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly"],
        env=env, cwd=kit, stdout=subprocess.DEVNULL, stderr=log,
        start_new_session=True,
    )
    base = ""
    try:
        runtime = home / "runtime" / f"jpserver-{server.pid}.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, f"jupyter lab exited {server.returncode}:\n{(home / 'server.log').read_text()}"
            if runtime.is_file():
                try:
                    base = f"http://127.0.0.1:{json.loads(runtime.read_text())['port']}"
                    urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5).read()
                    break
                except (ValueError, KeyError, OSError):
                    pass
            time.sleep(0.2)
        else:
            raise AssertionError(f"jupyter lab did not answer within 60 s:\n{(home / 'server.log').read_text()}")
        yield f"{base}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        try:
            request = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=5).read()
            server.wait(timeout=15)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def cell_index(kit: Path, grade_id: str) -> int:
    nb = nbformat.read(kit / NOTEBOOK, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert grade_id in ids, f"the release notebook has no cell {grade_id!r}"
    return ids.index(grade_id)


def run_all(page) -> None:
    """Run > Run All Cells, then wait until the kernel is idle and no cell is waiting to run."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    page.wait_for_timeout(500)
    page.wait_for_function(
        """() => {
            const status = [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle$/.test(e.innerText.trim()));
            const busy = [...document.querySelectorAll('.jp-NotebookPanel .jp-InputPrompt')].some(e => e.innerText.includes('*'));
            return status && !busy;
        }""",
        timeout=WAIT_MS,
    )


def outputs(page, index: int) -> str:
    return page.locator(".jp-NotebookPanel .jp-Cell").nth(index).locator(".jp-OutputArea").inner_text()


def prompt(page, index: int) -> str:
    return page.locator(".jp-NotebookPanel .jp-Cell").nth(index).locator(".jp-InputPrompt").inner_text().strip()


def instructor_ui(page) -> list[str]:
    """nbgrader's instructor extensions as they would show: its menu, its sidebars and toolbar."""
    labels = page.locator(".lm-MenuBar-item, .lm-TabBar-tab, .jp-Toolbar-item, [title]").evaluate_all(
        "els => els.map(e => (e.innerText || '') + ' ' + (e.getAttribute('title') || ''))")
    return [label.strip() for label in labels if re.search(r"nbgrader|create assignment|validate|formgrader", label, re.I)]


def test_a_student_fills_a_todo_in_jupyterlab(kit: Path, jupyterlab: str, student_tool: Path, capsys) -> None:
    require_browser_tools()
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    todo, graded, following = (cell_index(kit, g) for g in (TODO_CELL, GRADED_CELL, NEXT_GRADED_CELL))
    released = nbformat.read(kit / NOTEBOOK, as_version=4).cells[todo].source
    assert released.count(STUB) == 1, f"the {TODO_CELL} cell should hold one stub:\n{released}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(jupyterlab)
            cells = page.locator(".jp-NotebookPanel .jp-Cell")
            cells.nth(following).wait_for(timeout=WAIT_MS)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle$/.test(e.innerText.trim()))",
                timeout=WAIT_MS,
            )
            assert "class Variable" in cells.nth(todo).inner_text(), "cell order on screen differs from the file"
            menus = page.locator(".lm-MenuBar-item").all_inner_texts()
            assert "Run" in menus and "Kernel" in menus, f"the menu bar shows {menus}"
            assert not instructor_ui(page), f"nbgrader's instructor tools are on the student's page: {instructor_ui(page)}"

            # 1. Run everything: the first graded test meets the stub and stops the run.
            run_all(page)
            first = outputs(page, graded)
            assert "NotImplementedError" in first, f"{GRADED_CELL} should fail with NotImplementedError, shows:\n{first}"
            assert prompt(page, following) == "[ ]:", f"Run All should stop at the first error, {NEXT_GRADED_CELL} shows {prompt(page, following)}"

            # 2. Type an implementation into the TODO cell, as a student does, and run everything again.
            cells.nth(todo).locator(".cm-content").click()
            page.keyboard.press("Control+a")
            page.keyboard.insert_text(released.replace(STUB, STUDENT_INIT))
            page.keyboard.press("Escape")
            run_all(page)
            after = outputs(page, graded)
            assert "Error" not in after, f"{GRADED_CELL} should pass after the edit, shows:\n{after}"
            assert prompt(page, graded) not in ("[ ]:", "[*]:"), f"{GRADED_CELL} did not run: {prompt(page, graded)}"
            assert "NotImplementedError" in outputs(page, following), "the run should now stop at the next stub"

            # 3. Save, and keep a picture of the passing test cell.
            page.keyboard.press("Control+s")
            saved = kit / NOTEBOOK
            deadline = time.monotonic() + 30
            while "kind = np.asarray(data).dtype.kind" not in saved.read_text(encoding="utf-8"):
                assert time.monotonic() < deadline, "Control+s did not write the typed code to disk within 30 s"
                time.sleep(0.2)
            cells.nth(graded).scroll_into_view_if_needed()
            ARTIFACTS.mkdir(exist_ok=True)
            screenshot = ARTIFACTS / "browser_autograd_test_variable_passes.png"
            page.screenshot(path=str(screenshot))
            assert screenshot.stat().st_size > 10_000, f"{screenshot} is suspiciously small"
        finally:
            browser.close()
    browser_seconds = time.monotonic() - started

    # 4. What the student saved passes that test in tito check too; the next stub still fails.
    check = run_student_tito(student_tool, "check", NOTEBOOK, cwd=kit, check=False)
    assert re.search(rf"^  PASS  {GRADED_CELL} +5/5$", check.stdout, re.MULTILINE), check.stdout
    assert re.search(rf"^  FAIL  {NEXT_GRADED_CELL} +0/5  `add` \(cell add\) is not written yet$", check.stdout, re.MULTILINE), check.stdout
    assert check.stdout.startswith("Start here: `add` (cell add) is not written yet"), check.stdout  # the next stub
    with capsys.disabled():  # shown in every run, not only with -s
        print(f"\nscreenshot: {screenshot}\nbrowser part: {browser_seconds:.1f}s, with tito check: {time.monotonic() - started:.1f}s")
