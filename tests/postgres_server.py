"""A throw-away PostgreSQL server for tests: Debian's `postgresql` binaries, a fresh cluster in a
temporary folder, listening on loopback and a private unix socket, stopped and deleted afterwards.
initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (runuser)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a SQLAlchemy URL (postgresql+psycopg2://...) to an empty database."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs Debian's postgresql package")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="tito-pg-"))
    data, sockets, log = folder / "data", folder / "sockets", folder / "server.log"
    sockets.mkdir()
    if as_postgres:
        for path in (folder, sockets):
            shutil.chown(path, user="postgres")
    port = free_port()
    pg_ctl = [*as_postgres, str(binaries / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(
            [*as_postgres, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
        subprocess.run([*pg_ctl, "-l", str(log), "-w", "-t", "60", "-o", options, "start"], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [*as_postgres, str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "gradebook"],
            check=True, capture_output=True, timeout=60,
        )
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
