"""`tito doctor`: is everything the course pipeline needs installed? One line of fix per problem."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from pathlib import Path

REQUIRED = ["numpy", "jupytext", "nbdev", "nbgrader", "nbclient", "ipykernel"]


def version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def grading_kernel() -> tuple[str | None, str]:
    """The kernel nbgrader will execute notebooks with (python3), and where it lives."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError:
        return None, "jupyter_client is not installed"
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return None, "no 'python3' kernel"
    # The built-in python3 spec says "python" and means the interpreter running jupyter.
    executable = sys.executable if spec.argv[0] in ("python", "python3") else spec.argv[0]
    return "python3", executable


def warm_starter_check() -> str | None:
    """Start the grader's warm starter and have it run one script; None if it works, else why not."""
    import tempfile
    import time

    from tito.sandbox.forkserver import PIPE, ForkServer

    try:
        with tempfile.TemporaryDirectory(prefix="tito-doctor-") as folder:
            script = Path(folder) / "hello.py"
            script.write_text("import numpy\nprint('hello')\n")
            server = ForkServer()
            try:
                started = time.perf_counter()
                process = server.spawn([sys.executable, "-I", str(script)], {}, folder, None, stdout=PIPE)
                said, code = process.stdout.read(), process.wait(timeout=60)
                process.stdout.close()
                print(f"starter     warm (a forked script ran in {time.perf_counter() - started:.2f}s)")
            finally:
                server.close()
    except Exception as error:  # reported as a problem with its cause, never a traceback
        return f"{type(error).__name__}: {error}"
    return None if (said, code) == (b"hello\n", 0) else f"the test script printed {said!r} and exited {code}"


def report_leftovers() -> None:
    """Warm starters (and the kernels they forked) whose tito is gone, with the command that stops
    them; socket folders nothing uses any more. A warning: they waste CPU, they break nothing."""
    from tito.lifetime import leftovers

    trees, folders = leftovers()
    pids = [pid for tree in trees for pid in tree.pids]
    print(f"leftovers   {len(pids)} process(es) of a tito that is gone" if pids else "leftovers   none")
    for tree in trees:
        print(f"WARNING: leftover warm starter {tree.pid} ({len(tree.pids)} process(es), {tree.socket_folder}): its tito is gone")
    if pids:
        print(f"WARNING: stop them with: kill -KILL {' '.join(map(str, pids))}")
    folders = sorted({*map(str, folders), *(tree.socket_folder for tree in trees)})
    if folders:
        print(f"WARNING: warm-starter folders left behind; remove them with: rm -rf {' '.join(folders)}")


def check_worker() -> dict:
    """Run on a Dask worker by `tito doctor --scheduler`: its sandbox, checked there and then."""
    from tito.sandbox.sandbox import recheck_support, worker_report

    return worker_report(recheck_support())


def scheduler_workers(scheduler: str, problems: list[str]) -> None:
    """Each worker of `scheduler`: the sandbox it would grade in, and its caps."""
    try:
        from dask.distributed import Client

        with Client(scheduler, timeout=30) as client:
            reports = client.run(check_worker)
    except Exception as error:  # unreachable scheduler, no dask: a problem line, not a traceback
        problems.append(f"cannot ask the workers of {scheduler}: {type(error).__name__}: {error}")
        return
    if not reports:
        problems.append(f"the scheduler {scheduler} has no workers")
    for address, report in sorted(reports.items()):
        print(f"worker      {address} ({report['worker'].rsplit(' on ', 1)[-1]}): sandbox {report['mode']}")
        for line in report["caps"]:
            print(f"              cap {line}")
        if report["mode"] != "namespaces":
            problems.append(f"worker {address} cannot build the sandbox ({'; '.join(report['missing'])}): "
                            "tito grade refuses its results unless --allow-unsandboxed")


def run_doctor(scheduler: str | None = None) -> int:
    problems: list[str] = []
    fix = f"{sys.executable} -m pip install -e '.[course,test]'"
    print(f"python      {sys.version.split()[0]} ({sys.executable})")
    for package in REQUIRED:
        version = version_of(package)
        print(f"{package:<11} {version or 'MISSING'}")
        if version is None:
            problems.append(f"{package} is missing: {fix}")
    nbdev_version = version_of("nbdev")
    if nbdev_version and not nbdev_version.startswith("2."):
        problems.append(
            f"nbdev {nbdev_version} refuses settings.ini: pip install 'nbdev>=2.4.14,<3' 'fastcore<2' 'execnb<0.2'"
        )
    kernel, where = grading_kernel()
    print(f"kernel      {kernel or 'MISSING'} ({where})")
    if kernel is None:
        problems.append(f"no python3 Jupyter kernel: {sys.executable} -m ipykernel install --sys-prefix")
    # nbgrader runs `alembic` as a subprocess when it first creates a gradebook; tito puts its
    # own environment's bin/ first on PATH for that, so alembic must be there.
    alembic = shutil.which("alembic", path=str(Path(sys.executable).parent))
    print(f"alembic     {alembic or 'MISSING'}")
    if alembic is None:
        problems.append(f"alembic is missing next to {sys.executable}: {fix}")
    report_leftovers()  # before our own warm starter starts
    broken = warm_starter_check()
    if broken:
        print("starter     BROKEN")
        problems.append(f"the warm starter (tito/sandbox/forkserver.py) cannot start kernels: {broken}")
    from tito.sandbox.sandbox import support

    sandbox = support()
    print(f"sandbox     {sandbox.mode}")
    for missing in sandbox.missing:  # grading still works, with less protection: loud, not fatal
        print(f"WARNING: sandbox: {missing}")
    from tito.sandbox.caps import caps_support

    caps = caps_support()
    for line in caps.lines():  # the whole-submission caps and what enforces each
        print(f"cap         {line}")
    for note in caps.notes:
        print(f"            (not used: {note})")
    for line in caps.missing():
        print(f"WARNING: cap: {line}")
    if scheduler:
        scheduler_workers(scheduler, problems)
    for problem in problems:
        print(f"problem: {problem}")
    print("doctor: all good" if not problems else f"doctor: {len(problems)} problem(s)")
    return 1 if problems else 0
