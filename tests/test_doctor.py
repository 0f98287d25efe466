from __future__ import annotations

from conftest import ROOT, run_tito


def test_doctor_reports_the_toolchain() -> None:
    result = run_tito("doctor", cwd=ROOT)
    for tool in ("python", "numpy", "jupytext", "nbdev", "nbgrader", "kernel", "alembic", "starter     warm"):
        assert any(line.startswith(tool) for line in result.stdout.splitlines()), (tool, result.stdout)
    assert "doctor: all good" in result.stdout
    assert "nbdev       2." in result.stdout


def test_doctor_fails_with_the_fix_when_a_package_is_missing(monkeypatch, capsys) -> None:
    from tito import doctor

    monkeypatch.setattr(doctor, "REQUIRED", [*doctor.REQUIRED, "tinytorch-no-such-package"])
    assert doctor.run_doctor() == 1
    out = capsys.readouterr().out
    assert "tinytorch-no-such-package MISSING" in out
    assert "problem: tinytorch-no-such-package is missing: " in out and "pip install -e" in out


def test_doctor_warns_loudly_when_the_sandbox_is_incomplete(monkeypatch, capsys) -> None:
    from tito import doctor
    from tito.sandbox import sandbox

    monkeypatch.setattr(sandbox, "support", lambda: sandbox.Support("limits", ("no PID/network/mount namespaces",)))
    assert doctor.run_doctor() == 0  # grading still works, with limits only
    out = capsys.readouterr().out
    assert "sandbox     limits" in out and "WARNING: sandbox: no PID/network/mount namespaces" in out
