"""The whole-submission caps (tito/sandbox/caps.py) as the grader sets them up and tears them down;
what they stop is checked by real `tito grade` batches (tests/test_sandbox.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tito.sandbox.caps import DISK, PROCESSES, SubmissionCaps, caps_support, format_size, mounts, parse_size, read
from tito.sandbox.sandbox import Slot

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="cgroups and the scratch disk need root (CI runs as root)")


def mounted(path) -> bool:
    return any(point == str(path) for point, _, _, _ in mounts())


def test_sizes_read_and_print_in_binary_units() -> None:
    assert parse_size("2G") == parse_size("2GiB") == parse_size("2048M") == 2 << 30
    assert parse_size("1.5g") == 3 << 29 and format_size(3 << 29) == "1.5 GiB" and format_size(DISK) == "256 MiB"
    for wrong in ("2048", "two G", "1K"):
        with pytest.raises(ValueError, match="e.g. 2G|at least 64M"):
            parse_size(wrong)


def test_this_machine_caps_every_submission() -> None:
    """CI and the development machines run as root with writable cgroups: no cap may fall back."""
    support = caps_support()
    assert support.memory is not None and support.processes is not None and support.disk, support
    assert support.missing() == [], support.lines()


def test_groups_and_disk_are_made_with_their_limits_and_leave_nothing_behind() -> None:
    with Slot() as slot, SubmissionCaps(slot.number, 768 << 20) as caps:
        assert mounted(caps.scratch) and os.statvfs(caps.scratch).f_blocks * os.statvfs(caps.scratch).f_frsize == DISK
        memory_limit = "memory.max" if caps.versions["memory"] == 2 else "memory.limit_in_bytes"
        assert int(read(caps.memory_group / memory_limit)) == 768 << 20
        assert int(read(caps.pids_group / "pids.max")) == PROCESSES
        assert caps.hit() is None
        # a process that joins the groups is killed with them; so is its child
        sleeper = subprocess.Popen([sys.executable, "-c", "import os, time\nos.fork()\ntime.sleep(600)"],
                                   preexec_fn=lambda: [open(f"{g}/cgroup.procs", "w").write("0") for g in caps.cgroups])
        deadline = time.monotonic() + 60  # the child forks once Python has started: wait for it, not for a guess
        while len(read(caps.pids_group / "cgroup.procs").split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(read(caps.pids_group / "cgroup.procs").split()) == 2
    assert sleeper.wait(timeout=10) == -9
    assert not mounted(caps.scratch) and not any(group.exists() for group in caps.groups)


def test_what_a_crashed_grader_left_in_a_slot_is_cleared_at_its_next_use() -> None:
    with Slot() as slot:
        leftover = SubmissionCaps(slot.number, 768 << 20)
        leftover.__enter__()  # and never __exit__: the grader died here
        sleeper = subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(600)"],
                                   preexec_fn=lambda: open(f"{leftover.memory_group}/cgroup.procs", "w").write("0"))
        (leftover.scratch / "old-file").write_text("left behind")
        with SubmissionCaps(slot.number, 768 << 20) as caps:
            assert sleeper.wait(timeout=10) == -9
            assert list(caps.scratch.iterdir()) == [] and caps.hit() is None
        assert not mounted(caps.scratch)
