from __future__ import annotations

from conftest import ROOT, run_tito


def test_doctor_reports_the_toolchain() -> None:
    result = run_tito("doctor", cwd=ROOT)
    for tool in ("python", "numpy", "jupytext", "nbdev", "nbgrader", "kernel", "alembic", "starter     warm",
                 "cap         memory 2 GiB per submission", "cap         processes 64", "cap         disk 256 MiB"):
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


def test_doctor_says_which_cap_falls_back_to_what(monkeypatch, capsys) -> None:
    from tito import doctor
    from tito.sandbox import caps

    memory_only = caps.CapsSupport(caps.Controller("memory", 1, caps.Path("/sys/fs/cgroup/memory")), None, False,
                                   ("no cgroup v1 pids hierarchy is mounted",))
    monkeypatch.setattr(caps, "caps_support", lambda: memory_only)
    assert doctor.run_doctor() == 0  # grading works, with weaker caps: loud, not fatal
    out = capsys.readouterr().out
    assert "cap         memory 2 GiB per submission (or --memory): cgroup v1 (/sys/fs/cgroup/memory/tinytorch-grader-N)" in out
    assert "WARNING: cap: processes 64 per submission: NO whole-submission cap: per-user process limit" in out
    assert "WARNING: cap: disk 256 MiB per submission: NO size-limited disk" in out
    assert "(not used: no cgroup v1 pids hierarchy is mounted)" in out
