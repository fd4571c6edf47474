"""`watcher init`, `watcher feeds ...` and `watcher opml ...` on files with comments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.feed_server import FeedServer, running_feed_server
from watcher.cli import cli
from watcher.config import load_config

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour News</title>
<link>{base}/</link><description>the harbour</description>
<item><title>Ferry timetable changes</title><link>{base}/a1</link><guid>a1</guid></item>
<item><title>Drought closes the reservoir</title><link>{base}/a2</link><guid>a2</guid></item>
</channel></rss>"""

PAGE = """<html><head><title>Harbour</title>
<link rel="alternate" type="application/rss+xml" title="Harbour News" href="/news.xml">
</head><body><p>Welcome</p></body></html>"""

CONFIG = """\
# Our desk's feeds.  Keep this comment.
database: sqlite:///var/w.db   # beside this file
defaults:
  per_host_delay: 0.01s   # the local test server needs no politeness

feeds:
  # the wire, polled often
  - name: wire
    url: http://127.0.0.1:9/wire.xml   # dead on purpose
    interval: 5m
    allow_private: true

topics:
  - name: ferries
    query: ferry OR ferries   # plain words
"""


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        running.put("/news.xml", RSS.format(base=running.base_url))
        running.put("/", PAGE, content_type="text/html; charset=utf-8")
        running.put("/about", "<html><body>nothing here</body></html>", content_type="text/html")
        yield running


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--config", str(config)])


def test_add_a_site_finds_its_feed_and_keeps_the_files_comments(
    server: FeedServer, config: Path
) -> None:
    added = run(config, "feeds", "add", server.url("/"), "--allow-private", "--tag", "local")

    assert added.exit_code == 0, added.output
    assert f"added feed harbour-news: {server.url('/news.xml')}" in added.stdout
    assert "2 items" in added.stdout
    text = config.read_text()
    # The new entry follows the last one; every other line is as it was.
    before, after = CONFIG.split("    allow_private: true\n", 1)
    assert text == (
        before
        + "    allow_private: true\n"
        + "  - name: harbour-news\n"
        + f"    url: {server.url('/news.xml')}\n"
        + "    title: Harbour News\n"
        + "    tags: [local]\n"
        + "    allow_private: true\n"
        + after
    )
    assert "# Our desk's feeds.  Keep this comment." in text
    assert "    url: http://127.0.0.1:9/wire.xml   # dead on purpose\n" in text
    assert "query: ferry OR ferries   # plain words" in text
    feed = load_config(config).feed("harbour-news")
    assert (feed.url, feed.title, feed.tags, feed.allow_private) == (
        server.url("/news.xml"),
        "Harbour News",
        ("local",),
        True,
    )


def test_add_refuses_a_configured_url_or_name_and_leaves_the_file(
    server: FeedServer, config: Path
) -> None:
    first = run(config, "feeds", "add", server.url("/news.xml"), "--allow-private")
    assert first.exit_code == 0, first.output
    before = config.read_text()

    again = run(config, "feeds", "add", server.url("/news.xml"), "--allow-private")
    via_page = run(config, "feeds", "add", server.url("/"), "--allow-private")
    same_name = run(config, "feeds", "add", server.url("/"), "--allow-private", "--name", "wire")

    assert again.exit_code == 2 and "already configured as 'harbour-news'" in again.output
    assert via_page.exit_code == 2 and "already configured" in via_page.output
    assert same_name.exit_code == 2 and "already has a source named 'wire'" in same_name.output
    assert config.read_text() == before


def test_add_refuses_what_is_not_a_feed_and_names_allow_private(
    server: FeedServer, config: Path
) -> None:
    before = config.read_text()
    no_feed = run(config, "feeds", "add", server.url("/about"), "--allow-private")
    blocked = run(config, "feeds", "add", server.url("/"))
    bad_interval = run(config, "feeds", "add", server.url("/"), "--interval", "soon")

    assert no_feed.exit_code == 1 and "no feed found" in no_feed.output
    assert blocked.exit_code == 1 and "pass --allow-private" in blocked.output
    assert bad_interval.exit_code == 2 and "--interval" in bad_interval.output
    assert config.read_text() == before


def test_list_pause_resume_remove(server: FeedServer, config: Path) -> None:
    listed = run(config, "feeds", "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[0].split() == [
        "NAME",
        "KIND",
        "STATE",
        "INTERVAL",
        "TAGS",
        "URL",
    ]
    assert "wire" in listed.stdout and "active" in listed.stdout and "5m" in listed.stdout

    paused = run(config, "feeds", "pause", "wire")
    assert paused.exit_code == 0, paused.output
    assert load_config(config).feed("wire").enabled is False
    assert "paused" in run(config, "feeds", "list").stdout
    resumed = run(config, "feeds", "resume", "wire")
    assert resumed.exit_code == 0
    assert config.read_text() == CONFIG  # pause + resume gives the file back

    unknown = run(config, "feeds", "remove", "wier")
    assert unknown.exit_code == 2 and "did you mean 'wire'" in unknown.output
    removed = run(config, "feeds", "remove", "wire")
    assert removed.exit_code == 0, removed.output
    assert load_config(config).feeds == ()
    assert "# Our desk's feeds.  Keep this comment." in config.read_text()


def test_an_edit_that_would_break_the_file_is_refused(config: Path) -> None:
    # The topic names the feed; removing the feed would leave a dangling reference.
    config.write_text(CONFIG.replace("query: ferry", "feeds: [wire]\n    query: ferry"))
    before = config.read_text()
    removed = run(config, "feeds", "remove", "wire")
    assert removed.exit_code == 2
    assert "left unchanged" in removed.output and "no feed named 'wire'" in removed.output
    assert config.read_text() == before


def test_init_writes_a_starter_that_checks_and_refuses_to_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "new-desk"
    written = CliRunner().invoke(cli, ["init", str(folder)])
    assert written.exit_code == 0, written.output
    assert "feeds add" in written.stdout
    checked = CliRunner().invoke(cli, ["check", "--config", str(folder / "feeds.yaml")])
    assert checked.exit_code == 0, checked.output
    assert "warning" not in checked.output
    again = CliRunner().invoke(cli, ["init", str(folder)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_opml_import_of_an_export_is_lossless(tmp_path: Path, config: Path) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(
        "feeds:\n"
        "  - {name: Harbour_News, url: 'https://harbour.example/rss', title: Harbour News,"
        " interval: 1h, tags: [local, sea]}\n"
        "  - {name: wire, url: 'https://wire.example/rss', tags: [world]}\n"
    )
    exported = CliRunner().invoke(cli, ["opml", "export", "--config", str(source)])
    assert exported.exit_code == 0, exported.output
    opml = tmp_path / "export.opml"
    opml.write_bytes(exported.stdout_bytes)

    target = tmp_path / "target.yaml"
    target.write_text("# imported here\nfeeds: []\n")
    imported = CliRunner().invoke(cli, ["opml", "import", str(opml), "--config", str(target)])
    assert imported.exit_code == 0, imported.output
    assert load_config(target).feeds == load_config(source).feeds
    assert target.read_text().startswith("# imported here\n")

    again = CliRunner().invoke(cli, ["opml", "import", str(opml), "--config", str(target)])
    assert again.exit_code == 0
    assert "skipped https://wire.example/rss: already configured as 'wire'" in again.stdout
    assert "added 0 feeds" in again.stdout


def test_discover_a_feed_url_says_it_is_a_feed_and_keeps_allow_private(
    server: FeedServer, config: Path
) -> None:
    result = run(config, "discover", server.url("/news.xml"), "--allow-private")

    assert result.exit_code == 0, result.output
    assert f"{server.url('/news.xml')} is a feed itself (2 items)" in result.stderr
    assert "watcher feeds add URL --allow-private" in result.stderr
    assert "allow_private: true" in result.stdout
    assert f"url: {server.url('/news.xml')}" in result.stdout


def test_discover_a_private_site_without_the_flag_names_the_flag(
    server: FeedServer, config: Path
) -> None:
    result = run(config, "discover", server.url("/"))
    assert result.exit_code == 1
    assert "pass --allow-private" in result.stderr


def test_allow_private_is_written_only_for_hosts_that_need_it() -> None:
    from watcher.cli.sources import needs_allow_private

    assert needs_allow_private("http://127.0.0.1:8080/feed")
    assert needs_allow_private("http://10.0.0.7/rss")
    assert needs_allow_private("http://localhost/rss")
    assert not needs_allow_private("https://93.184.215.14/rss")
