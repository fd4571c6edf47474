"""Run a command as a process and measure its own peak memory, from a small launcher.

A process's ru_maxrss starts at the RSS high-water mark of the process that forked
it (Linux records the old address space's mark at exec, and a vforked child's old
address space is its parent's). pytest grows past 300 MB over the whole suite, so a
command started straight from it would report at least that much. The launcher is
a fresh, small Python that starts the command, passes on SIGTERM and SIGINT, reaps
it with wait4 and writes its exit status and ru_maxrss to a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

_LAUNCHER = """
import json, os, signal, subprocess, sys
command, result = json.loads(sys.argv[1]), sys.argv[2]
child = subprocess.Popen(command)
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, lambda received, _frame: child.send_signal(received))
_, status, usage = os.wait4(child.pid, 0)
with open(result, "w") as out:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024], out)
"""


def launch(
    command: Sequence[str],
    result: Path,
    *,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` under the launcher; its result goes to ``result`` (see ``outcome``)."""
    return subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, json.dumps(list(command)), str(result)],
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=dict(env) if env is not None else None,
    )


def command_pid(launcher: subprocess.Popen[bytes]) -> int | None:
    """The pid of the command the launcher started, once it has started it."""
    try:
        children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text()
    except OSError:
        return None
    pids = children.split()
    return int(pids[0]) if pids else None


def outcome(result: Path) -> tuple[int, int]:
    """The command's exit status and peak RSS in bytes, as the launcher wrote them."""
    status, peak = json.loads(result.read_text())
    return int(status), int(peak)


def run(
    command: Sequence[str], workdir: Path, *, env: Mapping[str, str] | None = None, timeout: float
) -> tuple[int, str, str, int]:
    """Run ``command`` to its end: exit status, stdout, stderr, peak RSS in bytes."""
    result = workdir / f"measured-{os.getpid()}-{id(command)}.json"
    launcher = launch(
        command, result, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir, env=env
    )
    out, err = launcher.communicate(timeout=timeout)
    status, peak = outcome(result)
    return status, out.decode(errors="replace"), err.decode(errors="replace"), peak
