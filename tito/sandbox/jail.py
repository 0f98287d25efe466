"""The sandbox's last trusted step before student code: build the jail, drop to the worker's user.

    confine(spec)           the submission's cgroups, the private root, the limits, the dedicated user
                            (spec: Jail.spec())
    close_inherited(spec)   stdout/stderr to /dev/null as the spec says, every other fd closed

Called by the warm starter (tito/sandbox/forkserver.py), as root, in the process that is about to become
the kernel or the verifier: already PID 1 of fresh PID, network, mount, IPC and UTS namespaces,
so when it dies the kernel kills every process left in the namespace.
Standard library only: nothing here depends on what student code could reach.

mode "namespaces" (deny by default): a new root on a tmpfs holding only read-only binds of /usr
(with the /bin, /lib... links), a few /etc files, the Python prefix, the venv and the grading kit,
plus the read-write scratch folders, a private /tmp and /dev/shm (folders on the submission's
scratch disk, else small tmpfs), a minimal /dev and
the namespace's own /proc; pivot_root into it and detach the host's root. Everything else on the
machine (the repository, other checkouts, the course, the gradebook, other submissions, /root,
/home, the host's /tmp) does not exist inside.
mode "limits": no namespaces; only the resource limits and, when root, the dedicated user.
"""

import ctypes
import os
import platform
import resource

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}  # syscall numbers: libc has no pivot_root wrapper
ETC_FILES = ("passwd", "group", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "localtime", "hosts")
DEVICES = ("null", "zero", "full", "random", "urandom")
TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")

libc = ctypes.CDLL(None, use_errno=True)


def fail(what: str) -> None:
    error = ctypes.get_errno()
    raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(source, target, fstype, flags, data=None) -> None:
    encode = lambda s: s.encode() if s is not None else None  # noqa: E731
    if libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)) != 0:
        fail(f"mount {source} on {target}")


def bind(root: str, path: str, writable: bool, device: bool = False) -> None:
    """Bind the host's `path` at the same path under `root`; read-only unless `writable`."""
    target = root + path
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(path, target, None, MS_BIND | MS_REC)
    if device:  # keeps the host /dev's flags (a nodev remount would make it unusable)
        return
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    mount(None, target, None, flags)


def bind_at(path: str, target: str) -> None:
    """Bind the host's folder `path` read-write at `target` (another path) under the new root."""
    os.makedirs(target, exist_ok=True)
    mount(path, target, None, MS_BIND)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)


def join_cgroups(folders: list) -> None:
    """Move this process into each cgroup folder (tito/sandbox/caps.py made them): everything it
    starts from now on is counted there too. Done first, while the host's /sys is still visible."""
    for folder in folders:
        with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
            procs.write("0")  # 0: the writing process itself


def tmpfs(target: str, options: str) -> None:
    os.makedirs(target, exist_ok=True)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)


def build_root(spec: dict) -> None:
    cwd = os.getcwd()
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    root = spec["root"]
    tmpfs(root, "size=4m,mode=755")
    for name in TOP_LEVEL:  # merged /usr: these are links; otherwise bind them read-only
        if os.path.islink("/" + name):
            os.symlink(os.readlink("/" + name), f"{root}/{name}")
        elif os.path.isdir("/" + name):
            bind(root, "/" + name, writable=False)
    bind(root, "/usr", writable=False)
    for name in ETC_FILES:
        if os.path.exists("/etc/" + name):
            bind(root, "/etc/" + os.path.basename(name), writable=False)
    private_tmp = spec.get("tmp_folders") or {}
    if "tmp" in private_tmp:  # a folder on the submission's scratch disk: its size counts toward that cap
        bind_at(private_tmp["tmp"], root + "/tmp")
    else:
        tmpfs(root + "/tmp", f"size={spec['tmp_size']},mode=1777")
    for path in spec["ro"]:
        bind(root, path, writable=False)
    for path in spec["rw"]:
        bind(root, path, writable=True)
    tmpfs(root + "/dev", "size=64k,mode=755")
    for name in DEVICES:
        bind(root, "/dev/" + name, writable=True, device=True)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                       ("stderr", "/proc/self/fd/2")):
        os.symlink(link, f"{root}/dev/{name}")
    if "shm" in private_tmp:
        bind_at(private_tmp["shm"], root + "/dev/shm")
    else:
        tmpfs(root + "/dev/shm", f"size={spec['tmp_size']},mode=1777")
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    os.mkdir(".oldroot")
    number = PIVOT_ROOT.get(platform.machine())
    if number is None or libc.syscall(number, b".", b".oldroot") != 0:
        fail("pivot_root")
    os.chdir("/")
    if libc.umount2(b"/.oldroot", MNT_DETACH) != 0:
        fail("umount the host's root")
    os.rmdir("/.oldroot")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)  # the new root itself: read-only
    os.chdir(cwd)


def set_limits(limits: dict) -> None:
    names = {"as": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU, "nproc": resource.RLIMIT_NPROC,
             "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE, "core": resource.RLIMIT_CORE}
    for name, value in limits.items():
        resource.setrlimit(names[name], (value, value))


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # all ids non-zero: the kernel clears every capability
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail("prctl(NO_NEW_PRIVS)")


def confine(spec: dict) -> None:
    """Everything but the command: the submission's cgroups, the private root, the limits, the dedicated user."""
    os.umask(0o022)
    join_cgroups(spec.get("cgroups") or [])
    if spec["mode"] == "namespaces":
        build_root(spec)
    set_limits(spec["limits"])
    if spec.get("uid") is not None:
        drop_privileges(spec["uid"], spec["gid"])


def close_inherited(spec: dict) -> None:
    """stdout/stderr to /dev/null where the spec says so (a kernel's own output is not the grader's
    terminal), and every other inherited file descriptor closed."""
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in spec["to_devnull"]:
        os.dup2(devnull, fd)
    os.closerange(3, 1 << 16)
