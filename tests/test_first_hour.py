"""The first hour, as README's quick start tells it: an empty folder to a digest preview.

Every step is the real command in a subprocess, run from the folder a new user
would be in, with the exit status and output a new user would see.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.feed_server import running_feed_server

SITE = """<html><head><title>Valley Gazette</title>
<link rel="alternate" type="application/rss+xml" title="Valley Gazette" href="/rss.xml">
</head><body><h1>Valley Gazette</h1></body></html>"""

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Valley Gazette</title><link>{base}/</link>
<description>Local news</description>
<item><title>Drought empties the valley reservoir</title><link>{base}/drought</link>
<guid>drought</guid><pubDate>Tue, 01 Dec 2026 08:00:00 GMT</pubDate>
<description>Farmers say the drought is the worst in thirty years.</description></item>
<item><title>Council approves new bus timetable</title><link>{base}/buses</link>
<guid>buses</guid><pubDate>Tue, 01 Dec 2026 07:00:00 GMT</pubDate>
<description>Buses will run every ten minutes.</description></item>
</channel></rss>"""


def watcher(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_empty_folder_to_a_digest_preview(tmp_path: Path) -> None:
    folder = tmp_path / "my-watcher"
    folder.mkdir()
    with running_feed_server() as server:
        server.put("/", SITE, content_type="text/html; charset=utf-8")
        server.put("/rss.xml", RSS.format(base=server.base_url))

        init = watcher(folder, "init")
        assert init.returncode == 0, init.stderr
        assert "wrote feeds.yaml" in init.stdout and "feeds add" in init.stdout

        check = watcher(folder, "check")
        assert check.returncode == 0, check.stderr
        assert "ok — 0 feeds, 1 topics, 1 digests" in check.stdout

        add = watcher(folder, "feeds", "add", server.url("/"), "--allow-private")
        assert add.returncode == 0, add.stderr
        assert f"added feed valley-gazette: {server.url('/rss.xml')}" in add.stdout
        assert "2 items" in add.stdout
        assert (
            "# watcher configuration, written by `watcher init`"
            in (folder / "feeds.yaml").read_text()
        )

        listed = watcher(folder, "feeds", "list")
        assert listed.returncode == 0 and "valley-gazette" in listed.stdout

        poll = watcher(folder, "poll", "--once")
        assert poll.returncode == 0, poll.stderr
        assert "polled 1 sources: 1 fetched" in poll.stdout
        assert "2 new items, 0 updated, 1 new matches" in poll.stdout

    preview = watcher(folder, "digest", "preview", "daily", "--format", "text")
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.startswith("Subject: Daily digest — 1 new: My topic (1)")
    assert "* *Drought* empties the valley reservoir" in preview.stdout
    assert "Matched My topic: drought" in preview.stdout
    assert "bus timetable" not in preview.stdout
    assert "to stop it, remove your address" in preview.stdout

    html = watcher(tmp_path, "digest", "preview", "daily", "--config", "my-watcher/feeds.yaml")
    assert html.returncode == 0, html.stderr
    assert html.stdout.startswith(str(folder / "var" / "preview-daily.html"))

    # Everything the quick start wrote is in the folder, nowhere else.
    assert (folder / "var" / "watcher.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-watcher"]
