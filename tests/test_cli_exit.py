"""How the `watcher` process ends: as sys.exit would, without the interpreter's teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exit_handlers_run_and_the_code_is_kept() -> None:
    done = run_python(
        """
        import atexit, sys, tempfile
        from watcher.cli import exit_without_teardown
        folder = tempfile.TemporaryDirectory()  # removed by its finalizer at exit
        print(folder.name)
        atexit.register(lambda: print("handler ran"))
        sys.stdout.write("in the buffer\\n")  # a pipe: block-buffered, not yet written
        exit_without_teardown(3)
        """
    )
    assert done.returncode == 3
    folder, buffered, handler = done.stdout.splitlines()
    assert buffered == "in the buffer"
    assert handler == "handler ran"
    assert not Path(folder).exists()


def test_a_message_goes_to_stderr_with_status_1() -> None:
    done = run_python(
        """
        from watcher.cli import exit_without_teardown
        exit_without_teardown("config: broken")
        """
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "config: broken"


def test_a_running_thread_that_is_not_a_daemon_is_waited_for() -> None:
    done = run_python(
        """
        import threading, time
        from watcher.cli import exit_without_teardown
        def work():
            time.sleep(0.5)
            print("thread finished", flush=True)
        threading.Thread(target=work).start()
        exit_without_teardown(0)
        """
    )
    assert done.returncode == 0
    assert done.stdout.strip() == "thread finished"


def test_the_command_line_exits_with_its_status() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "watcher", "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and "version" in version.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", "/nonexistent/feeds.yaml", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "/nonexistent/feeds.yaml" in missing.stderr


def test_a_profiled_run_still_writes_its_profile(tmp_path: Path) -> None:
    """`python -m cProfile -o FILE` writes FILE after the program returns."""
    profile = tmp_path / "version.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "watcher", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0
