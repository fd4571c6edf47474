"""Ctrl-C during `watcher poll --once` reports what finished and exits 130."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chaos_server import running_chaos_server


@pytest.mark.slow
def test_ctrl_c_prints_the_summary_so_far_and_exits_130(tmp_path: Path) -> None:
    with running_chaos_server() as server:
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "# one quick feed, one that never answers\n"
            "defaults: {timeout: 5s, per_host_delay: 0.01s}\n"
            "feeds:\n"
            f"  - {{name: quick, url: '{server.url('/feed.xml')}', allow_private: true}}\n"
            f"  - {{name: stuck, url: '{server.url('/hang')}', allow_private: true}}\n",
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "poll", "--once", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            # A shell starts background jobs with SIGINT ignored, and Python keeps an
            # ignored SIGINT ignored: give the child the terminal's default back.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert process.stderr is not None
        for line in process.stderr:  # the quick feed's result is logged as it finishes
            if "quick" in line:
                break
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)

    assert process.returncode == 130
    assert "interrupted after 1 of 2 sources; polled 1 sources: 1 fetched" in stdout
