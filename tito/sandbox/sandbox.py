"""The sandbox every submission runs in (issue 9), seen from the trusted grader.

    support()              what this machine can do: "namespaces" (root + unshare) or "limits" only
    Slot()                 one dedicated unprivileged user per concurrent submission (tinytorch-grader-N,
                           created on first use), held with a file lock so threads, processes and Dask
                           workers on one machine never share one; on release every process of that
                           user is killed
    Jail(...).spec()       how a command runs inside the sandbox: tito/sandbox/forkserver.py starts it there,
                           with tito/sandbox/jail.py's `confine`

Protections in "namespaces" mode: own PID/network/mount/IPC/UTS namespaces (no network at all, not
even loopback; killing the kernel, PID 1 there, kills everything it started), a deny-by-default
root (only Python, the venv, the kit read-only, its scratch folders writable), a dedicated uid
with no capabilities and no_new_privs, and rlimits (address space, CPU time, processes, file
size, open files). In "limits" mode only the rlimits (and the dedicated uid when root) apply.
In both modes, all the processes of one submission together are capped (memory, processes, scratch
disk) by tito/sandbox/caps.py where the machine allows it.

    recheck_support()      support() probed again: each grading task checks the machine it runs on
    worker_report()        that check as plain data, sent back with every task's result
"""

from __future__ import annotations

import fcntl
import functools
import os
import platform
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tito.sandbox.caps import SubmissionCaps

USER_PREFIX = "tinytorch-grader-"
MAX_SLOTS = 64
SLOT_DIR = Path("/run/tinytorch-grader") if os.path.isdir("/run") else Path("/tmp/tinytorch-grader")
DEFAULT_MEMORY = 2 << 30  # address space per process (and, with a cgroup, memory of the whole submission)
NPROC = 64  # processes and threads of the worker's user, where no cgroup caps the whole submission
NOFILE = 256
FSIZE = 64 << 20  # largest file a submission may write
TMP_SIZE = "64m"  # private /tmp and /dev/shm

_user_lock = threading.Lock()


@dataclass(frozen=True)
class Support:
    mode: str  # "namespaces" or "limits"
    missing: tuple[str, ...]  # protections this machine cannot give, one line each

    def warning(self) -> str:
        return "SANDBOX INCOMPLETE: " + "; ".join(self.missing) if self.missing else ""


@functools.cache
def support() -> Support:
    missing = []
    if os.geteuid() != 0:
        return Support("limits", (
            "not root: submissions run as the grader's own user, can read what it reads and write where it writes",
            "no PID/network/mount namespaces: no private filesystem, network open",
            "no per-user process limit (it would count the grader's own processes)",
        ))
    unshare = shutil.which("unshare")
    if platform.machine() not in ("x86_64", "aarch64"):
        missing.append(f"pivot_root syscall number unknown on {platform.machine()}")
    elif unshare is None:
        missing.append("util-linux `unshare` not found")
    else:
        probe = subprocess.run([unshare, "--pid", "--net", "--mount", "--ipc", "--uts", "--fork", "--kill-child", "true"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            missing.append(f"namespaces unavailable ({probe.stderr.strip()[:120] or probe.returncode})")
    if missing:
        missing += ["no private filesystem, network open: submissions can read and write what the grader can",
                    "no dedicated user and no per-user process limit"]
        return Support("limits", tuple(missing))
    return Support("namespaces", ())


def recheck_support() -> Support:
    """Probe this machine again (a Dask worker's PATH or privileges may differ from the last task's)."""
    support.cache_clear()
    return support()


def worker_report(support_now: Support | None = None) -> dict:
    """What this worker can give a submission, as plain data: its sandbox mode, what is missing,
    which mechanism enforces each whole-submission cap, and who the worker is."""
    import socket

    from tito.sandbox.caps import caps_support

    found = support_now or support()
    worker = "local"
    if "distributed" in sys.modules:  # a Dask worker imported it; importing it here would cost 0.5 s
        try:
            from distributed import get_worker

            worker = get_worker().address
        except (ImportError, ValueError):  # not inside a Dask task
            pass
    return {"mode": found.mode, "missing": list(found.missing), "caps": caps_support().lines(),
            "worker": f"{worker} on {socket.gethostname()}"}


def ensure_user(name: str) -> tuple[int, int]:
    """The system user `name` (no home, no shell), created once; its (uid, gid)."""
    with _user_lock:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            SLOT_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(SLOT_DIR / "useradd.lock", "w") as lock:  # other grading processes too
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    useradd = shutil.which("useradd", path="/usr/sbin:/sbin:/usr/bin:/bin") or "useradd"
                    subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                                    "--user-group", name], check=True, capture_output=True)
                    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status", encoding="utf-8") as status:
                    for line in status:
                        if line.startswith("Uid:"):
                            if int(line.split()[1]) == uid:
                                found.append(int(entry))
                            break
            except (OSError, ValueError):
                continue
    return found


def kill_until_gone(find: Callable[[], Iterable[int]], rounds: int) -> int:
    """SIGKILL what `find()` returns, again and again (a dying process may fork once more), until it
    returns nothing or `rounds` run out; how many processes were killed."""
    killed: set[int] = set()
    for _ in range(rounds):
        pids = set(find())
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    return len(killed)


def kill_user(uid: int) -> int:
    """SIGKILL every process of `uid` until none is left; how many were killed."""
    return kill_until_gone(lambda: processes_of(uid), rounds=100)


class Slot:
    """A dedicated user for one submission at a time (root only); a no-op user otherwise."""

    def __init__(self) -> None:
        self.uid: int | None = None
        self.gid: int | None = None
        self.name: str | None = None
        self.number: int | None = None  # its place among the MAX_SLOTS, for its caps (tito/sandbox/caps.py)
        self._lock = None

    def __enter__(self) -> Slot:
        if os.geteuid() != 0:
            return self
        SLOT_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        while self._lock is None:
            for number in range(MAX_SLOTS):
                handle = open(SLOT_DIR / f"slot-{number}.lock", "w")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                self._lock, self.name, self.number = handle, f"{USER_PREFIX}{number}", number
                break
            else:
                time.sleep(0.1)
        self.uid, self.gid = ensure_user(self.name)
        kill_user(self.uid)  # a previous grader that crashed may have left some behind
        return self

    def clean(self) -> None:
        """Nothing of this user may outlive the kernel it ran (double-forked children included)."""
        if self.uid is not None:
            kill_user(self.uid)

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            kill_user(self.uid)
            self._lock.close()


@dataclass
class Jail:
    """How one command runs sandboxed: who, what it may read and write, which limits."""

    slot: Slot
    scratch: Path  # holds root/ (the jail's mount point)
    readable: list[Path] = field(default_factory=list)
    writable: list[Path] = field(default_factory=list)
    memory: int = DEFAULT_MEMORY
    cpu_seconds: int = 300
    keep_stdout: bool = False  # the verifier answers on stdout; a kernel's stdout goes nowhere
    caps: SubmissionCaps | None = None  # the whole submission's caps (tito/sandbox/caps.py)

    def spec(self) -> dict:
        mode = support().mode
        if mode == "namespaces":
            (self.scratch / "root").mkdir(exist_ok=True)  # the private root's mount point
        caps = self.caps
        # Each process also gets the whole cap as address space: one process that grows gets a MemoryError
        # it can handle (and the grader a truncated notebook, not gigabytes of buffered output); the
        # group cap stops what several processes do together. Without a group cap, this is all there is.
        limits = {"as": self.memory, "cpu": max(1, int(self.cpu_seconds)), "fsize": FSIZE, "nofile": NOFILE, "core": 0}
        # Without a private root the dedicated user could not even run Python when it lives under a
        # private home (e.g. pyenv in /root), so "limits" mode keeps the grader's user.
        dedicated = mode == "namespaces" and self.slot.uid is not None
        if dedicated and (caps is None or caps.pids_group is None):
            limits["nproc"] = NPROC  # counts per user: only meaningful for a dedicated one
        # With a scratch disk, the jail's /tmp and /dev/shm are folders on it: one cap for all it writes.
        private_tmp = {}
        if caps is not None and caps.disk and mode == "namespaces":
            for name in ("tmp", "shm"):
                folder = self.scratch / name
                folder.mkdir(mode=0o1777, exist_ok=True)
                folder.chmod(0o1777)
                private_tmp[name] = str(folder)
        python = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).parent}
        return {
            "mode": mode,
            "uid": self.slot.uid if dedicated else None,
            "gid": self.slot.gid if dedicated else None,
            "limits": limits,
            "root": str(self.scratch / "root"),
            "ro": [str(p) for p in sorted(python) + list(self.readable)],
            "rw": [str(p) for p in self.writable],
            "tmp_size": TMP_SIZE,
            "tmp_folders": private_tmp,
            "cgroups": caps.cgroups if caps is not None else [],
            "to_devnull": [2] if self.keep_stdout else [1, 2],
        }

    def hand_over(self, path: Path) -> None:
        """Make `path` (a scratch folder or file) the sandboxed user's."""
        if self.slot.uid is not None and support().mode == "namespaces":
            os.chown(path, self.slot.uid, self.slot.gid)
