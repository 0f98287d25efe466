"""Whole-submission caps: all the processes of one submission TOGETHER get at most `memory` bytes
of memory, PROCESSES processes and threads, and a DISK-byte scratch disk (issue 15).

    caps_support()              what this machine offers, probed once: which mechanism enforces each cap
    SubmissionCaps(slot, memory)  the caps of the submission running in grader slot `slot`
        .cgroups                the cgroup folders its sandboxed processes join (tito/sandbox/jail.py's
                                `confine` joins them, before anything else, as root)
        .scratch                its scratch disk: every folder it may write is on it
        .hit()                  why it must stop and score 0 ("used more than 2 GiB of memory"), or None
        .kill_all()             SIGKILL every process in its cgroups

Mechanisms, best first, and what `tito doctor` reports:
- memory and processes: cgroup v2 when the machine offers it, i.e. its v2 hierarchy has the
  memory and pids controllers and root may enable them for /sys/fs/cgroup/tinytorch-grader/
  (memory.max, memory.swap.max 0, memory.oom.group 1, pids.max); else cgroup v1 where writable
  (a child of the cgroup tito itself runs in, so the machine's own limits on tito still hold:
  memory.limit_in_bytes and memory.memsw.limit_in_bytes, pids.max); else none, and only the
  per-process rlimits of tito/sandbox/sandbox.py apply (address space = `memory`, and the process
  limit of the dedicated grader user).
- disk: as root, a tmpfs of DISK bytes per slot holding everything the submission may write (its
  work and socket folders, its /tmp and /dev/shm), mounted at a fixed path per slot so a grader
  that crashed leaves at most one behind, replaced at the slot's next use. Files there live in
  memory and count toward the memory cap too. Without root: a folder in /tmp, and only the size
  limit per file (RLIMIT_FSIZE).
A cap is hit when the kernel's own counters say so: an OOM kill in the group ("oom_kill" in
memory.events or, v1, memory.oom_control), a refused fork ("max" in pids.events), or a scratch disk
with no free block or inode. The grader polls them while the submission runs, then kills it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GROUP_PREFIX = "tinytorch-grader-"
DEFAULT_MEMORY = 2 << 30
DISK = 256 << 20
DISK_INODES = 16384  # files and folders on the scratch disk (each costs kernel memory)
PROCESSES = 64  # processes and threads of one submission (a kernel alone runs 11 threads)
V2_BASE = "tinytorch-grader"  # /sys/fs/cgroup/tinytorch-grader/<slot>
HIT_COUNTERS = {  # (controller, cgroup version) -> (file, counter that grows when the cap is hit)
    ("memory", 1): ("memory.oom_control", "oom_kill"),
    ("memory", 2): ("memory.events", "oom_kill"),
    ("pids", 1): ("pids.events", "max"),
    ("pids", 2): ("pids.events", "max"),
}


def format_size(size: int) -> str:
    """2147483648 -> '2 GiB', 805306368 -> '768 MiB'."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            return f"{value:.{0 if value == int(value) else 1}f} {unit}"
    return f"{size} bytes"


def parse_size(text: str) -> int:
    """'2G', '2GiB', '1536M', '512MiB' -> bytes (binary units). ValueError with the accepted forms."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT])(?:i?B)?\s*", text, re.IGNORECASE)
    if not found:
        raise ValueError(f"{text!r} is not a size: give a number and a unit, e.g. 2G, 1.5G or 512M")
    size = int(float(found.group(1)) * (1 << (10 * "KMGT".index(found.group(2).upper()) + 10)))
    if size < 64 << 20:
        raise ValueError(f"{text!r} is too little: a kernel alone needs about 60 MiB; give at least 64M")
    return size


@dataclass(frozen=True)
class Controller:
    name: str  # "memory" or "pids"
    version: int  # 1 or 2
    parent: Path  # where the per-slot groups are made


@dataclass(frozen=True)
class CapsSupport:
    memory: Controller | None
    processes: Controller | None
    disk: bool
    notes: tuple[str, ...]  # why a better mechanism is not in use

    def lines(self) -> list[str]:
        """One line per cap for `tito doctor`: which mechanism enforces it."""
        def group(controller: Controller | None, fallback: str) -> str:
            if controller is None:
                return fallback
            return f"cgroup v{controller.version} ({controller.parent}/{GROUP_PREFIX if controller.version == 1 else ''}N)"

        return [
            f"memory {format_size(DEFAULT_MEMORY)} per submission (or --memory): "
            + group(self.memory, "NO whole-submission cap: address-space limit per process only (RLIMIT_AS)"),
            f"processes {PROCESSES} per submission: "
            + group(self.processes, "NO whole-submission cap: per-user process limit (RLIMIT_NPROC) only"),
            f"disk {format_size(DISK)} per submission: "
            + ("size-limited tmpfs per grader slot" if self.disk else "NO size-limited disk: a size limit per file only (RLIMIT_FSIZE)"),
        ]

    def missing(self) -> list[str]:
        return [line for line in self.lines() if "NO " in line]


def read(path: Path) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def write(path: Path, value: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(value)


def counter(path: Path, name: str) -> int:
    """The value of `name` in a flat-keyed cgroup file ("oom_kill 3"); 0 if absent."""
    try:
        for line in read(path).splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount point, root inside the filesystem, type, super options) of every mount we see."""
    found = []
    for line in read(Path("/proc/self/mountinfo")).splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) >= 5 and len(tail) >= 3:
            found.append((fields[4], fields[3], tail[0], set(tail[2].split(","))))
    return found


def own_cgroups() -> dict[str, str]:
    """controller -> this process's cgroup path ("" for the v2 hierarchy), from /proc/self/cgroup."""
    groups = {}
    for line in read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            groups[name] = path
    return groups


def folder_of(mount_point: str, mount_root: str, path: str) -> Path:
    relative = path[len(mount_root):] if mount_root != "/" and path.startswith(mount_root) else path
    return Path(mount_point) / relative.lstrip("/")


def probe_group(parent: Path, limit_file: str, limit: str) -> None:
    """Make a group under `parent`, set a limit, remove it: raises OSError if any step is refused."""
    probe = parent / f"{GROUP_PREFIX}probe-{os.getpid()}"
    os.mkdir(probe)
    try:
        write(probe / limit_file, limit)
    finally:
        os.rmdir(probe)


def v2_support() -> tuple[dict[str, Controller], str]:
    """The v2 controllers usable for per-slot groups, or none and why."""
    found = [(point, root) for point, root, kind, _ in mounts() if kind == "cgroup2"]
    if not found:
        return {}, "no cgroup v2 hierarchy is mounted"
    point, root = found[0]
    top = Path(point)
    offered = read(top / "cgroup.controllers").split()
    lacking = [name for name in ("memory", "pids") if name not in offered]
    if lacking:
        bound = [name for name in lacking if any(kind == "cgroup" and name in options for _, _, kind, options in mounts())]
        why = " (bound to cgroup v1 on this machine)" if bound == lacking else ""
        return {}, f"the cgroup v2 hierarchy at {top} offers no {' or '.join(lacking)} controller{why}"
    base = top / V2_BASE
    try:
        # Groups under the hierarchy's root: only there may controllers be enabled while other
        # processes (tito's own) sit in the parent. Refused in a container's cgroup namespace.
        enabled = read(top / "cgroup.subtree_control").split()
        missing = [f"+{name}" for name in ("memory", "pids") if name not in enabled]
        if missing:
            write(top / "cgroup.subtree_control", " ".join(missing))
        base.mkdir(exist_ok=True)
        write(base / "cgroup.subtree_control", "+memory +pids")
        probe_group(base, "memory.max", str(DEFAULT_MEMORY))
    except OSError as error:
        return {}, f"cgroup v2 at {top} is not writable for tito ({error.strerror or error})"
    return {"memory": Controller("memory", 2, base), "pids": Controller("pids", 2, base)}, ""


def v1_support(name: str, limit_file: str, limit: str) -> tuple[Controller | None, str]:
    found = [(point, root) for point, root, kind, options in mounts() if kind == "cgroup" and name in options]
    if not found:
        return None, f"no cgroup v1 {name} hierarchy is mounted"
    own = own_cgroups().get(name)
    if own is None:
        return None, f"this process is in no cgroup v1 {name} group"
    parent = folder_of(*found[0], own)
    try:
        probe_group(parent, limit_file, limit)
    except OSError as error:
        return None, f"cgroup v1 {name} at {parent} is not writable for tito ({error.strerror or error})"
    return Controller(name, 1, parent), ""


def disk_support() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "not root: no tmpfs can be mounted for the scratch disk"
    from tito.sandbox import jail

    with tempfile.TemporaryDirectory(prefix="tito-caps-probe-") as folder:
        try:
            jail.mount("tmpfs", folder, "tmpfs", jail.MS_NOSUID | jail.MS_NODEV, "size=1m")
        except OSError as error:
            return False, f"cannot mount a tmpfs ({error})"
        jail.libc.umount2(folder.encode(), jail.MNT_DETACH)
    return True, ""


@functools.cache
def caps_support() -> CapsSupport:
    if os.geteuid() != 0:
        why = "not root: tito makes no cgroups and mounts no scratch disk"
        return CapsSupport(None, None, False, (why,))
    notes = []
    controllers, why = v2_support()
    if why:
        notes.append(why)
    memory, processes = controllers.get("memory"), controllers.get("pids")
    if memory is None:
        memory, why = v1_support("memory", "memory.limit_in_bytes", str(DEFAULT_MEMORY))
        if why:
            notes.append(why)
    if processes is None:
        processes, why = v1_support("pids", "pids.max", str(PROCESSES))
        if why:
            notes.append(why)
    disk, why = disk_support()
    if why:
        notes.append(why)
    return CapsSupport(memory, processes, disk, tuple(notes))


def processes_in(group: Path) -> list[int]:
    try:
        return [int(pid) for pid in read(group / "cgroup.procs").split()]
    except (OSError, ValueError):
        return []


class SubmissionCaps:
    """The caps of one submission (the one holding grader slot `slot`), made on enter, removed on exit."""

    def __init__(self, slot: int | None, memory: int = DEFAULT_MEMORY) -> None:
        self.slot, self.memory = slot, memory
        support = caps_support()
        usable = slot is not None
        self.memory_group = self.group(support.memory) if usable and support.memory else None
        self.pids_group = self.group(support.processes) if usable and support.processes else None
        self.versions = {"memory": support.memory and support.memory.version, "pids": support.processes and support.processes.version}
        self.disk = usable and support.disk
        self.scratch = Path()
        self.temporary: str | None = None

    def group(self, controller: Controller) -> Path:
        return controller.parent / (f"{GROUP_PREFIX}{self.slot}" if controller.version == 1 else str(self.slot))

    @property
    def groups(self) -> list[Path]:
        return list(dict.fromkeys(g for g in (self.memory_group, self.pids_group) if g is not None))

    @property
    def cgroups(self) -> list[str]:
        return [str(group) for group in self.groups]

    def __enter__(self) -> SubmissionCaps:
        for group in self.groups:
            if not self.remove(group):  # left behind by a grader that crashed
                raise OSError(f"cannot remove {group}: processes are left in it")
            group.mkdir()
        if self.memory_group is not None:
            if self.versions["memory"] == 2:
                write(self.memory_group / "memory.max", str(self.memory))
                for name, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
                    if (self.memory_group / name).exists():
                        write(self.memory_group / name, value)
            else:
                write(self.memory_group / "memory.limit_in_bytes", str(self.memory))
                if (self.memory_group / "memory.memsw.limit_in_bytes").exists():  # no swapping past the cap
                    write(self.memory_group / "memory.memsw.limit_in_bytes", str(self.memory))
        if self.pids_group is not None:
            write(self.pids_group / "pids.max", str(PROCESSES))
        if self.disk:
            from tito.sandbox import jail
            from tito.sandbox.sandbox import SLOT_DIR

            self.scratch = SLOT_DIR / f"scratch-{self.slot}"
            unmount_all(self.scratch)
            self.scratch.mkdir(mode=0o711, parents=True, exist_ok=True)
            jail.mount("tmpfs", str(self.scratch), "tmpfs", jail.MS_NOSUID | jail.MS_NODEV,
                       f"size={DISK},nr_inodes={DISK_INODES},mode=711")
        else:
            self.temporary = tempfile.mkdtemp(prefix="tito-grade-")
            self.scratch = Path(self.temporary)
            self.scratch.chmod(0o711)
        return self

    def hit(self) -> str | None:
        """Why the submission must stop and score 0, or None while it is within its caps."""
        if self.memory_group is not None:
            name, key = HIT_COUNTERS[("memory", self.versions["memory"])]
            if counter(self.memory_group / name, key):
                return f"used more than {format_size(self.memory)} of memory (all its processes together)"
        if self.pids_group is not None:
            name, key = HIT_COUNTERS[("pids", self.versions["pids"])]
            if counter(self.pids_group / name, key):
                return f"ran more than {PROCESSES} processes and threads at once"
        if self.disk:
            try:
                usage = os.statvfs(self.scratch)
            except OSError:
                return None
            if usage.f_bavail == 0:
                return f"wrote more than {format_size(DISK)} to its scratch disk"
            if usage.f_favail == 0:
                return f"made more than {DISK_INODES} files on its scratch disk"
        return None

    def kill_all(self) -> int:
        from tito.sandbox.sandbox import kill_until_gone

        return kill_until_gone(lambda: [pid for group in self.groups for pid in processes_in(group)], rounds=100)

    def remove(self, group: Path) -> bool:
        """Kill what is in `group` and remove it; False if it would not go."""
        for _ in range(100):
            if not group.exists():
                return True
            self.kill_all_in(group)
            try:
                group.rmdir()
            except FileNotFoundError:
                return True
            except OSError:  # its last processes are still exiting
                time.sleep(0.02)
        return False

    @staticmethod
    def kill_all_in(group: Path) -> None:
        for pid in processes_in(group):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __exit__(self, *exc) -> None:
        self.kill_all()
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
        elif self.disk:
            unmount_all(self.scratch)  # frees its memory too
        for group in self.groups:
            self.remove(group)  # if it will not go, the slot's next use tries again


def unmount_all(path: Path) -> None:
    """Detach every mount stacked on `path` (one, or more if a grader crashed mid-way)."""
    from tito.sandbox import jail

    target = os.fsencode(path)
    for _ in range(8):
        if jail.libc.umount2(target, jail.MNT_DETACH) != 0:
            return
