"""`tito mutate`: a fixed sample of every module's mutants is killed by its graded tests (or recorded as
equivalent), the report says what happened (score, survivors with their diffs, time limit, stale
records), and mutant ids survive edits elsewhere in the source."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_tito

from tito.authoring.mutate import CodeCell, load_equivalents, run_mutants
from tito.authoring.mutations import Mutant, solution_regions, source_mutants
from tito.project import Module, discover_modules

MUTATED = [m for m in discover_modules(ROOT) if solution_regions(m.source.read_text(encoding="utf-8"))]
SCORE = re.compile(r"mutation score of (\S+): (\d+)/(\d+) non-equivalent mutants killed \(([\d.]+)%\); (\d+) recorded equivalent")


@pytest.mark.parametrize("module", MUTATED, ids=[m.id for m in MUTATED])
def test_a_fixed_sample_of_the_modules_mutants_is_killed(module) -> None:
    result = run_tito("mutate", module.id, "--sample", "30", cwd=ROOT, check=False)
    assert result.returncode == 0, f"tito mutate {module.id} --sample 30 found survivors:\n{result.stdout}\n{result.stderr}"
    assert f"tito mutate {module.id}: 30 mutants" in result.stdout, result.stdout
    (score,) = SCORE.findall(result.stdout)
    killed, counted, equivalent = int(score[1]), int(score[2]), int(score[4])
    assert killed == counted and counted + equivalent == 30, result.stdout
    assert equivalent <= len(load_equivalents(module)), result.stdout
    assert "survivor" not in result.stdout and result.stdout.isascii(), result.stdout


TOY = '''\
# %% [markdown]
# # Module 02: Toy

# %% nbgrader={"grade": false, "grade_id": "toy-code", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| default_exp core.toy
#| export
def square(x):
    """x squared."""
    ### BEGIN SOLUTION
    return x ** 2
    ### END SOLUTION


def countdown(n):
    """[n, n - 1, ..., 1]."""
    ### BEGIN SOLUTION
    steps = []
    while len(steps) < n:
        steps.append(n - len(steps))
    return steps
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-square", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
assert square(2) == 4, "square(2) should be 4"

# %% nbgrader={"grade": true, "grade_id": "test-countdown", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
assert countdown(3) == [3, 2, 1], "countdown(3) should be [3, 2, 1]"
### BEGIN HIDDEN TESTS
assert countdown(0) == [], "countdown(0) should be []"
### END HIDDEN TESTS
'''

MISTAKES = '''\
MISTAKES = [dict(name="square cubes", culprit="square", caught_by="test-square", says="", wrong={"return x ** 2": "return x ** 3"})]
'''


def test_the_report_shows_the_score_each_survivor_with_its_diff_timeouts_and_stale_records(tmp_path: Path) -> None:
    shutil.copy(ROOT / "settings.ini", tmp_path / "settings.ini")
    folder = tmp_path / "modules" / "source" / "02_toy"
    folder.mkdir(parents=True)
    (folder / "toy_dev.py").write_text(TOY, encoding="utf-8")
    (folder / "mistakes.py").write_text(MISTAKES, encoding="utf-8")

    listed = run_tito("mutate", "toy", "--list", cwd=tmp_path).stdout.splitlines()
    ids = {re.search(r"`([^`]*)` -> `([^`]*)`", line).groups(): line.split()[0] for line in listed if "`" in line}
    times_two, two_to_the_x = ids[("x ** 2", "(x * 2)")], ids[("x ** 2", "(2 ** x)")]  # 2 * 2 == 2 ** 2 == 4: survivors
    assert any("mistake: square cubes" in line for line in listed), listed
    assert ("2", "3") not in ids, "x ** 3 is the catalogued mistake; the same mutant from the constant operator is left out"
    (folder / "equivalent_mutants.py").write_text(
        f'EQUIVALENT = [dict(id="{two_to_the_x}", reason="the test cannot tell"), dict(id="0000000000", reason="gone")]\n',
        encoding="utf-8")

    result = run_tito("mutate", "toy", "--timeout", "3", "--workers", "2", cwd=tmp_path, check=False)
    out = result.stdout
    assert result.returncode == 1, out
    assert f"tito mutate 02_toy: {len(listed)} mutants (1 catalogued mistakes)" in out, out
    (score,) = SCORE.findall(out)
    assert score[1:] == (str(len(listed) - 2), str(len(listed) - 1), score[3], "1"), out  # all killed but the survivor
    assert re.search(r"^  mistake +1 +1 +0 +0$", out, re.MULTILINE), out
    assert re.search(r"by the time limit \(3\.0s\) [1-9]", out), f"dropping steps.append loops forever:\n{out}"
    assert "remove them from 02_toy/equivalent_mutants.py): 0000000000" in out, out
    survivor = out[out.index(f"survivor {times_two}"):]
    assert survivor.startswith(f"survivor {times_two}  square  line 10  arithmetic: `x ** 2` -> `(x * 2)`"), out
    assert "\n    -    return x ** 2\n    +    return (x * 2)\n" in survivor, out
    assert f'dict(id="{times_two}", mutant="square: `x ** 2` -> `(x * 2)`", reason=""),' in survivor, out
    assert out.count("\nsurvivor ") == 1 and out.isascii(), out

    (folder / "toy_dev.py").write_text(TOY.replace("== [3, 2, 1]", "== [1, 2, 3]"), encoding="utf-8")
    broken = run_tito("mutate", "toy", cwd=tmp_path, check=False)
    assert broken.returncode == 1 and "the reference solution does not pass its own graded tests" in broken.stderr, broken
    assert "test-countdown: AssertionError: countdown(3) should be [3, 2, 1]" in broken.stderr, broken.stderr


def test_mutant_ids_survive_edits_elsewhere_in_the_source() -> None:
    text = (ROOT / "modules" / "source" / "07_autograd" / "autograd_dev.py").read_text(encoding="utf-8")
    before = {(m.function, m.description): m.id for m in source_mutants(text)}
    edited = "# %% [markdown]\n# A new first cell.\n\n" + text.replace(
        "    return a - b, (lambda g: g, lambda g: -g)", "    return a - b, (lambda g: g, lambda g: 0 - g)")
    after = {(m.function, m.description): m.id for m in source_mutants(edited)}
    unchanged = {key: i for key, i in before.items() if key[0] != "subtract"}
    assert unchanged and all(after.get(key) == i for key, i in unchanged.items()), "ids changed outside the edited function"
    assert {i for key, i in before.items() if key[0] == "subtract"} != {i for key, i in after.items() if key[0] == "subtract"}
    ids = [m.id for m in source_mutants(text)]
    assert len(set(ids)) == len(ids), "two mutants share an id"


def test_the_runner_kills_mutants_that_loop_allocate_too_much_or_crash(tmp_path: Path) -> None:
    cells = [CodeCell(0, 0, 0, "block = bytearray(1)", "test-block", True), CodeCell(1, 0, 0, "assert block", "test-after", True)]
    changed = {
        "survives": "block = bytearray(2)",
        "allocates": "block = bytearray(8 << 30)",  # 8 GiB: more than the 512 MB allowed
        "loops": "while True:\n    pass",
        "crashes": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
    }
    mutants = [(Mutant(name, "", "test", 1, name, ()), {0: source}) for name, source in changed.items()]
    reference, outcomes = run_mutants(ROOT, Module(tmp_path), cells, mutants, workers=2, timeout=2.0, memory_mb=512,
                                      every_test=False)
    assert reference["reference"]["status"] == "survived" and reference["timeout"] == 2.0, reference
    got = {o.mutant.id: (o.status, o.killer, o.message) for o in outcomes}
    assert got["survives"] == ("survived", "", ""), got
    assert got["allocates"][:2] == ("killed", "test-block") and got["allocates"][2].startswith("MemoryError"), got
    assert got["loops"] == ("timeout", "time limit", "still running after 2.0s (time limit)"), got
    assert got["crashes"] == ("crashed", "crash (killed by signal SIGSEGV)", "killed by signal SIGSEGV"), got
