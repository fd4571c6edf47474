"""The whole path through the CLI: a local HTTP server, poll, store, match, digest to the outbox."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.e2e_news import serve_news, write_news_config
from tests.feed_server import FeedServer, running_feed_server
from watcher.cli import cli


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        serve_news(running)
        yield running


@pytest.fixture
def config_path(tmp_path: Path, server: FeedServer) -> Path:
    return write_news_config(tmp_path, server.base_url)


def watcher(config_path: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_poll_store_match_and_digest(config_path: Path, server: FeedServer, tmp_path: Path) -> None:
    first = watcher(config_path, "poll", "--once")
    assert first.exit_code == 0, first.output
    assert "polled 2 sources: 2 fetched, 0 not modified, 0 failed; 4 new items" in first.output

    listed = json.loads(watcher(config_path, "items", "--format", "json").stdout)
    by_title = {item["title"]: item for item in listed}
    assert len(listed) == 4
    visit = by_title["Premier Aldous departs for state visit to Verania"]
    assert visit["url"] == "https://northwind.example/world/aldous-verania"  # utm_* gone
    assert {m["topic"] for m in visit["matches"]} == {"leader-travel", "parade-coverage"}
    assert by_title["Harvest festival draws record crowds"]["matches"] == []
    assert by_title["Shipping rates ease as port congestion clears"]["matches"] == []

    # A second poll finds the server's ETags unchanged: nothing parsed, nothing duplicated.
    second = watcher(config_path, "poll", "--once")
    assert "0 fetched, 2 not modified" in second.output
    assert len(json.loads(watcher(config_path, "items", "--format", "json").stdout)) == 4
    assert server.requests[-1][1] is not None  # If-None-Match was sent

    sent = watcher(config_path, "digest", "send", "morning")
    assert sent.exit_code == 0, sent.output
    message = only_message(tmp_path / "outbox")
    assert message["Subject"].startswith("Morning digest — 2 new")
    assert message["To"] == "desk@example.org"
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content()
    html = html_part.get_content()
    # Highlighting marks matched terms (*term* in text, <mark> in HTML); read past it.
    for body in (text.replace("*", ""), re.sub(r"<[^>]+>", "", html)):
        assert "Premier Aldous departs for state visit to Verania" in body
        assert "parade rehearsal" in body
        assert "Harvest festival" not in body
        assert "Shipping rates" not in body
    assert 'href="https://northwind.example/world/aldous-verania"' in html
    assert "Northwind Wire" in html
    assert "<mark" in html  # matched terms highlighted
    assert list((tmp_path / "outbox").glob("*.html"))

    again = watcher(config_path, "digest", "send", "morning")
    assert "nothing new" in again.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def only_message(outbox: Path) -> EmailMessage:
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1, files
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_unknown_feed_name_is_a_usage_error(config_path: Path) -> None:
    result = watcher(config_path, "poll", "--once", "--feed", "nope")
    assert result.exit_code == 2
    assert "no source named 'nope'" in result.output


def test_digest_preview_claims_nothing(config_path: Path, tmp_path: Path) -> None:
    watcher(config_path, "poll", "--once")
    preview = watcher(config_path, "digest", "preview", "morning", "--format", "json")
    assert preview.exit_code == 0, preview.output
    structure = json.loads(preview.stdout)
    assert "Premier Aldous" in json.dumps(structure)
    html_out = tmp_path / "preview.html"
    watcher(config_path, "digest", "preview", "morning", "--output", str(html_out))
    assert "Verania" in re.sub(r"<[^>]+>", "", html_out.read_text(encoding="utf-8"))
    sent = watcher(config_path, "digest", "send", "morning")
    assert "2 items" in sent.output
