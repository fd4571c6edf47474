"""What a `watcher poll --once` imports: nothing it does not use (issue #18).

Each module below cost every poll's start-up while only other commands, other
configurations or a digest being rendered used it; they are imported where they
are used. The poll runs in a fresh process (a subprocess), whose ``sys.modules`` is
what is checked, both after importing the poll path and at the end of a real
poll of a local feed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from feed_server import running_feed_server

from watcher.config import load_config_text
from watcher.outputs import digest as digest_module
from watcher.outputs.deliver import FileTransport
from watcher.outputs.send import DigestSender
from watcher.store import Store
from watcher.stories import StoryAssigner

ROOT = Path(__file__).resolve().parents[1]

# Imported by a poll only when it needs them: rendering a digest (Jinja2, css_inline),
# a PostgreSQL database, an SMTP send, a digest schedule to check (APScheduler),
# `digest preview --open` (webbrowser), a listing or watched page or an article to
# read (lxml and cssselect: these configs have feeds only).
NOT_FOR_A_POLL = (
    "lxml",
    "cssselect",
    "jinja2",
    "css_inline",
    "sqlalchemy.dialects.postgresql",
    "smtplib",
    "apscheduler",
    "webbrowser",
)

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Log</title>
<link>https://harbour.example/</link>
<item><title>Ferry timetable changes</title><link>https://harbour.example/1</link>
<guid>harbour-1</guid><description>The winter timetable starts on Monday.</description></item>
</channel></rss>"""


SECOND_ITEM = """<item><title>Ferry fares frozen</title><link>https://harbour.example/2</link>
<guid>harbour-2</guid><description>Fares stay as they are this winter.</description></item>
"""


def poll_once(config: Path) -> str:
    """Python that sets the command line of `watcher --config CONFIG poll --once`."""
    return f"import sys; sys.argv = ['watcher', '--config', {str(config)!r}, 'poll', '--once']"


def python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key != "WATCHER_CONFIG"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=environ, capture_output=True, text=True
    )


def loaded(output: str) -> set[str]:
    return set(json.loads(output.strip().splitlines()[-1]))


def test_importing_the_poll_path_leaves_out_what_a_poll_does_not_use(tmp_path: Path) -> None:
    done = python(
        "import json, sys, watcher.cli, watcher.pipeline; print(json.dumps(sorted(sys.modules)))",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert loaded(done.stdout).intersection(NOT_FOR_A_POLL) == set()


def test_a_poll_once_imports_none_of_them(tmp_path: Path) -> None:
    with running_feed_server() as server:
        url = server.put("/harbour.xml", RSS)
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "database: sqlite:///watcher.db\n"
            f"feeds:\n  - name: harbour\n    url: {url}\n    allow_private: true\n"
            "topics:\n  - name: ferries\n    query: ferry OR timetable\n"
        )
        # A first poll makes the database: migrating it imports Alembic and with it
        # every SQLAlchemy dialect. Every later start finds it up to date.
        first = python(f"from watcher.cli import main; {poll_once(config)}; main()", tmp_path)
        assert first.returncode == 0, first.stderr
        server.put("/harbour.xml", RSS.replace("</channel>", SECOND_ITEM + "</channel>"))
        # The modules at exit, written by an exit handler: `watcher` ends the process
        # with os._exit after running them (watcher.cli.exit_without_teardown). Exit
        # handlers run last first: stderr ends with the young threshold, then the
        # count of frozen objects.
        done = python(
            "import atexit, gc, json, sys\n"
            "atexit.register(lambda: print(gc.get_freeze_count(), file=sys.stderr))\n"
            "atexit.register(lambda: print(gc.get_threshold()[0], file=sys.stderr))\n"
            "atexit.register(lambda: print(json.dumps(sorted(sys.modules))))\n"
            f"from watcher.cli import main\n{poll_once(config)}\nmain()\n",
            tmp_path,
        )
    assert done.returncode == 0, done.stderr
    assert "polled 1 sources: 1 fetched, 0 not modified, 0 failed; 1 new items" in done.stdout
    modules = loaded(done.stdout)
    assert "watcher.pipeline" in modules  # it did poll
    assert modules.intersection(NOT_FOR_A_POLL) == set()
    # What start-up made is frozen out of the collector's walks (watcher.cli.polling).
    *_, young_threshold, frozen = done.stderr.strip().splitlines()
    assert int(frozen) > 10_000
    # And the young collections come far less often than every 700 allocations.
    assert int(young_threshold) >= 10_000


def test_the_command_line_imports_with_the_collector_off_and_runs_commands_with_it_on(
    tmp_path: Path,
) -> None:
    """`watcher` (watcher/__main__.py) imports the command line with the collector off,
    which walked the ~200,000 objects of start-up hundreds of times; the command runs
    with it on."""
    config = tmp_path / "feeds.yaml"
    config.write_text("topics:\n  - name: ferries\n    query: ferry OR timetable\n")
    done = python(
        "import atexit, gc, sys\n"
        "during_imports = []\n"
        "def count(phase, info):\n"
        "    # watcher.cli defines main last: until then it is being imported.\n"
        "    cli = sys.modules.get('watcher.cli')\n"
        "    if phase == 'start' and cli is not None and not hasattr(cli, 'main'):\n"
        "        during_imports.append(info['generation'])\n"
        "gc.callbacks.append(count)\n"
        "atexit.register(lambda: print(len(during_imports), gc.isenabled(), file=sys.stderr))\n"
        f"sys.argv = ['watcher', '--config', {str(config)!r}, 'check']\n"
        "from watcher.__main__ import main\n"
        "main()\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "ok — 0 feeds" in done.stdout
    collections, enabled = done.stderr.strip().splitlines()[-1].split()
    assert (int(collections), enabled) == (0, "True")
    # The console script is that same entry point.
    scripts = (ROOT / "pyproject.toml").read_text()
    assert 'watcher = "watcher.__main__:main"' in scripts


def test_a_sender_fails_at_construction_without_a_rendering_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store: Store
) -> None:
    """Rendering imports Jinja2 and css_inline on first use; a process that may send
    digests still learns at its start that one is missing."""
    config = load_config_text(f"outbox: {tmp_path / 'outbox'}\n")
    transport = FileTransport(tmp_path / "outbox")
    stories = StoryAssigner(sqlite_store)
    DigestSender(config, sqlite_store, transport, stories)  # both installed: fine
    missing = "watcher_test_no_such_renderer"
    monkeypatch.setattr(digest_module, "RENDER_LIBRARIES", ("jinja2", missing))
    with pytest.raises(ModuleNotFoundError, match=missing):
        DigestSender(config, sqlite_store, transport, stories)
