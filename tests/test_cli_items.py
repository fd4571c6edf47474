"""`watcher items`: a table with a header, newest first by the time it shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from watcher.cli import cli
from watcher.clock import utc_now
from watcher.config import load_config
from watcher.models import Item
from watcher.store import MatchedItem, SourceUpdate, Store


def test_items_table_has_a_header_and_is_newest_first(tmp_path: Path) -> None:
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(
        "# a desk\nfeeds:\n  - {name: wire, url: 'https://wire.example/rss'}\n", encoding="utf-8"
    )
    config = load_config(config_path)
    now = utc_now()
    with Store.open(config.database) as store:
        store.upgrade()
        store.sync_sources(config.feeds, now)
        # One poll stores a feed's items in document order, oldest first here.
        ages = {"three-days-old": 72, "yesterday": 24, "an-hour-ago": 1}
        new = [
            MatchedItem(
                Item(
                    feed="wire",
                    key=key,
                    url=f"https://wire.example/{key}",
                    title=key,
                    summary="",
                    content_hash=key,
                    published=now - timedelta(hours=hours),
                ),
                (),
            )
            for key, hours in ages.items()
        ]
        store.record_poll(
            SourceUpdate(name="wire", polled_at=now, result="new_items", next_poll_at=now), new=new
        )

    result = CliRunner().invoke(cli, ["items", "--config", str(config_path)])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "WHEN", "FEED", "TOPICS", "TITLE"]
    assert [line.split()[-1] for line in lines[1:]] == [
        "an-hour-ago",
        "yesterday",
        "three-days-old",
    ]
