"""The warm starter: the grader's kernels and verifiers start in about 0.1 s of CPU instead of 1 s,
because they are forked from a process that has already imported ipykernel, IPython and NumPy.

    python -E -s tito/sandbox/forkserver.py SOCKET PARENT_PID [MODULE...]   (started by `warm_starter()`, as the grader's user)

The server is trusted code: single-threaded, started with a scrubbed environment (a forked child
can read the server's original environment in /proc/self/environ), listening on a socket in a
folder only its user can enter. Per request (JSON: argv, env, cwd, the jail spec of
tito/sandbox/sandbox.py or null; and the stdin/stdout/stderr descriptors) it forks:

  A  the request's handle: a session of its own and, in "namespaces" mode, new PID, network,
     mount, IPC and UTS namespaces (what `unshare --fork --kill-child` gives); forks B, waits,
     and ends as B ended;
  B  PID 1 of those namespaces (so its death kills everything it started), killed if A dies:
     tito/sandbox/jail.py's `confine` (private root, limits, dedicated user), its stdio from the request,
     every other descriptor closed; then `python -m MODULE ARGS` or `python SCRIPT ARGS` runs
     in-process, with the request's environment, cwd, sys.argv and sys.path, and fresh seeds.

A command it cannot run in-process (another interpreter, other options) is exec'd cold, in the
same confinement. The grader sees A as a `ForkedProcess`, which behaves as the `subprocess.Popen`
of the cold command would (pid, poll, wait, kill), with A's exit status sent over the socket.

Nothing it starts outlives tito, however tito ends (SIGKILL included). The server ends when its
stdin reaches EOF (only tito holds the write end), or on SIGTERM. Every A holds the read end of the
server's lifeline pipe, whose write end only the server holds: at EOF (the server is gone, however
it ended) A kills B. A and the server are child subreapers, so what a command leaves behind when its
parent dies (a double-forked daemon: there is no PID namespace in `tito check`) comes back to them
as a child, and they kill it: A when B ends, the server when it shuts down. PARENT_PID is only
there for `tito doctor` (a server whose parent is gone is a leftover).
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

SERVER = Path(__file__).resolve()
# What a kernel and the verifier import (read off a started kernel's sys.modules), numpy included:
# the notebooks import it at once. Loaded here once instead of in every child.
PRELOAD = ("numpy", "numpy.linalg", "numpy.random", "numpy.testing", "ipykernel.kernelapp", "ipykernel.ipkernel",
           "ipykernel.zmqshell", "ipykernel.debugger", "ipykernel_launcher", "IPython.core.inputtransformer2",
           "IPython.core.debugger", "IPython.core.completerlib", "IPython.extensions.storemagic", "sqlite3", "pydoc",
           "faulthandler", "gzip", "http.server", "xmlrpc.server", "tornado.platform.asyncio", "tornado.queues",
           "encodings.idna", "runpy", "random")
NAMESPACES = 0x00020000 | 0x04000000 | 0x08000000 | 0x20000000 | 0x40000000  # CLONE_NEW NS, UTS, IPC, PID, NET
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SHUTDOWN_GRACE = 5.0  # seconds the server gives each A to end its command before killing it
CANNOT_START = 125  # B's exit status when its confinement failed


# ---------------------------------------------------------------- the server (a separate process)

def serve(path: str, extra: list[str] = ()) -> None:
    import gc
    import importlib
    import importlib.util

    # Started with -E -s, not -I: -I would also set sys.flags.safe_path in every child, and IPython
    # then leaves the notebook's folder off sys.path. Our own folder goes: children never see it.
    if sys.path and os.path.realpath(sys.path[0]) == str(SERVER.parent):
        del sys.path[0]
    for name in (*PRELOAD, *extra):
        try:
            importlib.import_module(name)
        except ImportError:  # noqa: PERF203 -- a module this venv lacks simply starts cold
            pass
    import inspect

    # inspect.getmodule maps every loaded module's file on its first miss (a traceback's cell frame):
    # thousands of stat calls, done here once instead of in every child's first traceback.
    inspect.getmodule(None, "<tito warm starter>")
    spec = importlib.util.spec_from_file_location("tito_jail", SERVER.with_name("jail.py"))
    jail = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(jail)
    global _lifeline
    jail.libc.prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a killed A come back here, to be killed
    lifeline_read, _lifeline = os.pipe()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `shut_down` runs (the __main__ block)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    gc.freeze()  # what was imported stays shared with the children, copy-on-write
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    children: dict[int, socket.socket] = {}
    while True:
        ready = select.select([listener, wake_read, 0], [], [])[0]
        if 0 in ready and not os.read(0, 1024):
            return  # the grader closed our stdin or died: no more requests
        if wake_read in ready:
            while True:
                try:
                    os.read(wake_read, 1024)
                except BlockingIOError:
                    break
        reap(children)
        if listener in ready:
            connection = listener.accept()[0]
            try:
                message, fds = socket.recv_fds(connection, 1 << 20, 3)[:2]
                request = json.loads(message)
            except (OSError, ValueError):
                connection.close()
                continue
            pid = os.fork()
            if pid == 0:  # A: nothing of the server's stays open in it
                for fd in (wake_read, wake_write, _lifeline, *(s.detach() for s in (listener, connection, *children.values()))):
                    os.close(fd)
                handle(request, fds, jail, lifeline_read)
            for fd in fds:
                os.close(fd)
            connection.send(f"pid {pid}".encode())
            children[pid] = connection


def reap(children: dict) -> None:
    """Collect every child that ended: the commands (A), whose grader learns their status, and, the
    server being a subreaper, whatever was orphaned below them (a kernel whose A was killed first)."""
    while True:
        try:
            pid, status, usage = os.wait3(os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is not None:
            try:  # with the CPU seconds of the command and everything it waited for
                cpu = usage.ru_utime + usage.ru_stime
                connection.send(f"exit {os.waitstatus_to_exitcode(status)} {cpu:.6f}".encode())
            except OSError:
                pass
            connection.close()


def handle(request: dict, fds: list[int], jail, lifeline: int) -> None:
    """Process A: never returns."""
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)  # sent to the process group: meant for B
        os.setsid()
        spec = request["spec"]
        namespaces = bool(spec) and spec["mode"] == "namespaces"
        if namespaces and jail.libc.unshare(NAMESPACES) != 0:
            jail.fail("unshare")
        jail.libc.prctl(PR_SET_CHILD_SUBREAPER, 1)  # what B leaves behind comes back to A
        pid = os.fork()
        if pid == 0:
            become(request, fds, jail)
        for fd in fds:
            os.close(fd)
        # In namespaces mode B is PID 1 (its death ends the namespace) and A's /proc is the jail's:
        # A then never looks for children there.
        status = wait_for_command(pid, lifeline, find_orphans=not namespaces)
        if os.WIFSIGNALED(status):  # end the same way, so the grader sees the signal
            number = os.WTERMSIG(status)
            if number not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught, nor reset
                signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
        os._exit(os.waitstatus_to_exitcode(status))
    except BaseException:  # noqa: BLE001 -- reported on the grader's stderr
        import traceback

        traceback.print_exc()
        os._exit(CANNOT_START)


def wait_for_command(pid: int, lifeline: int, find_orphans: bool) -> int:
    """A's wait for B: B's wait status; then every process B left behind (they come back to A, a
    subreaper) is killed and reaped. If the lifeline says the server is gone first, B and all that
    are killed at once and A ends."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)  # checked first: B may have ended before the handler
        if done:
            break
        if lifeline in select.select([lifeline, wake_read], [], [])[0]:  # EOF: the server is gone
            os.kill(pid, signal.SIGKILL)
            end_children(find_orphans)
            os._exit(1)  # nobody is left to tell how B ended
        while True:
            try:
                os.read(wake_read, 1024)
            except BlockingIOError:
                break
    end_children(find_orphans)
    return status


def end_children(find_orphans: bool, grace: float = 0.0) -> None:
    """Reap every child of this process until it has none. After `grace` seconds, SIGKILL the ones
    still there, each round: in a subreaper, descendants whose parent died become children, so this
    ends the whole tree. Without `find_orphans` only children that end by themselves are waited for."""
    import time

    deadline = time.monotonic() + grace
    while True:
        try:
            pid = os.waitpid(-1, os.WNOHANG)[0]
        except ChildProcessError:
            return
        if pid:
            continue
        if find_orphans and time.monotonic() >= deadline:
            for child in children_of(os.getpid()):
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.005)


def children_of(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    if int(stat.read().rsplit(b")", 1)[1].split()[1]) == parent:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue  # it ended meanwhile
    return found


_lifeline: int | None = None  # the server's write end of the lifeline; only the server holds it


def shut_down(path: str) -> None:
    """The server's last act, however `serve` ended: the lifeline closes, so each A kills its command;
    an A still there after the grace, and any orphan that came back here, is killed; the socket and
    its folder go."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # already shutting down
    if _lifeline is not None:
        os.close(_lifeline)
    end_children(find_orphans=True, grace=SHUTDOWN_GRACE)
    for remove, target in ((os.unlink, path), (os.rmdir, os.path.dirname(path))):
        try:
            remove(target)
        except OSError:
            pass


def become(request: dict, fds: list[int], jail) -> None:
    """Process B: confined, then the command; never returns."""
    try:
        jail.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        spec = request["spec"]
        if spec:
            jail.confine(spec)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        if spec:
            jail.close_inherited(spec)
        else:
            os.closerange(3, 1 << 16)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
    except BaseException:  # noqa: BLE001 -- stderr is still the grader's here only if confinement failed early
        import traceback

        traceback.print_exc()
        os._exit(CANNOT_START)
    os._exit(run(request["argv"], request["env"]))


def run(argv: list[str], env: dict) -> int:
    """`argv` in this process, as a fresh `python` would run it; the exit status."""
    import random
    import runpy

    options, rest = argv[1:], []
    isolated, module = False, None
    while options and options[0].startswith("-"):
        option, options = options[0], options[1:]
        if option == "-I":
            isolated = True
        elif option == "-m" and options:
            module, rest, options = options[0], options[1:], []
        else:
            options = None  # an option we do not reproduce: start cold
            break
    if os.path.realpath(argv[0]) != os.path.realpath(sys.executable) or options is None or not (module or options):
        os.execve(argv[0], argv, env)
    script = None if module else options[0]
    path = list(sys.path)  # the server's: the standard library and site-packages
    if not isolated:
        path[:0] = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
        path.insert(0, "" if module else os.path.dirname(os.path.abspath(script)))  # as python does
    sys.path[:] = path
    sys.argv[:] = [module or script, *(rest if module else options[1:])]
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    random.seed()  # forked children would otherwise all draw the same numbers
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    code = 0
    try:
        if module:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            code = exit_.code or 0
        else:
            print(exit_.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 -- as the interpreter would: traceback, status 1
        import traceback

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


# ---------------------------------------------------------------- the grader's side

PIPE, DEVNULL = subprocess.PIPE, subprocess.DEVNULL


class ForkedProcess:
    """Process A as the grader sees it; the same interface as the `subprocess.Popen` of the command."""

    def __init__(self, connection: socket.socket, pipes: dict) -> None:
        self.connection = connection
        self.lock = threading.Lock()
        reply = connection.recv(64).decode()
        if not reply.startswith("pid "):
            connection.close()
            raise OSError("the warm starter did not start the command")
        self.pid = int(reply.split()[1])
        self.returncode: int | None = None
        self.cpu: float | None = None  # CPU seconds of the command and all it waited for, once it ended
        self.stdin, self.stdout, self.stderr = pipes.get(0), pipes.get(1), pipes.get(2)
        self.args = None

    def _collect(self, timeout: float | None) -> int | None:
        with self.lock:
            if self.returncode is None and select.select([self.connection], [], [], timeout)[0]:
                message = self.connection.recv(64).decode().split()  # "exit STATUS CPU_SECONDS" (`reap`)
                # no message: the server itself died, and with it the way to know; report a kill
                exited = len(message) == 3 and message[0] == "exit"
                self.returncode = int(message[1]) if exited else -signal.SIGKILL
                self.cpu = float(message[2]) if exited else None
                self.connection.close()
            return self.returncode

    def poll(self) -> int | None:
        return self._collect(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._collect(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return code

    def send_signal(self, number: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, number)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkServer:
    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix="tito-forkserver-"))  # 0700: only we can connect
        self.socket = self.folder / "socket"
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LANGUAGE", "TZ") or k.startswith("LC_")}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # no threads in a forking process
        env.update(PYDEVD_DISABLE_FILE_VALIDATION="1")  # debugpy's import-time warning about frozen modules
        # Its stdin is its lifeline: EOF when this process ends, however it ends.
        self.process = subprocess.Popen([sys.executable, "-E", "-s", str(SERVER), str(self.socket), str(os.getpid()),
                                         *preload],
                                        stdin=PIPE, stdout=PIPE, env=env, cwd="/", start_new_session=True)
        if self.process.stdout.readline() != b"ready\n":
            self.process.kill()
            raise RuntimeError(f"the warm starter ({SERVER}) did not start; see the messages above")

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str | Path, spec: dict | None,
              stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL) -> ForkedProcess:
        """Start `argv` as `subprocess.Popen(argv, env=env, cwd=cwd, stdin=..., ...)` would, in the jail
        `spec` describes (None: unconfined). Each stream is DEVNULL, PIPE or a file descriptor."""
        mine, theirs = {}, []
        try:
            for number, stream in enumerate((stdin, stdout, stderr)):
                if stream == PIPE:
                    read, write = os.pipe()
                    mine[number] = os.fdopen(write if number == 0 else read, "wb" if number == 0 else "rb")
                    theirs.append(read if number == 0 else write)
                elif stream == DEVNULL or stream is None:
                    theirs.append(os.open(os.devnull, os.O_RDWR))
                else:
                    theirs.append(os.dup(stream))
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            connection.connect(str(self.socket))
            request = {"argv": [str(a) for a in argv], "env": dict(env), "cwd": str(cwd), "spec": spec}
            socket.send_fds(connection, [json.dumps(request).encode()], theirs)
            return ForkedProcess(connection, mine)
        except BaseException:
            for stream in mine.values():
                stream.close()
            raise
        finally:
            for fd in theirs:
                os.close(fd)

    def close(self) -> None:
        import shutil

        self.process.stdin.close()
        self.process.wait()
        self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_server: ForkServer | None = None
_server_lock = threading.Lock()
_stopped = False


def warm_starter(preload: tuple[str, ...] = ()) -> ForkServer:
    """This process's server, started on first use (importing `preload` too: the modules the
    graded notebooks' tests import) and stopped at exit."""
    global _server
    with _server_lock:
        if _stopped:
            raise RuntimeError("tito is stopping: no more kernels are started")
        if _server is None or _server.process.poll() is not None:
            import atexit

            _server = ForkServer(preload)
            atexit.register(_server.close)
        return _server


def stop_warm_starter() -> None:
    """tito is stopping: end every command the server started (kernels, verifiers) now, and start
    no other. The threads driving them then see their kernel die and wind down."""
    global _server, _stopped
    with _server_lock:
        _stopped = True
        server, _server = _server, None
    if server is not None:
        server.close()


if __name__ == "__main__":
    try:
        serve(sys.argv[1], sys.argv[3:])
    finally:
        shut_down(sys.argv[1])
