"""Store.sync_sources: a config that changed nothing changes no row (the early return
every `poll --once` takes, issue #18), and each kind of change is still applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from watcher.config import FeedConfig
from watcher.store import SourceUpdate, Store
from watcher.store.tables import FeedRow

NOW = datetime(2026, 9, 2, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
WIRE = FeedConfig(name="wire", url="http://127.0.0.1:9/wire.xml")
DAILY = FeedConfig(name="daily", url="http://127.0.0.1:9/daily.xml", title="The Daily")
FEEDS = [WIRE, DAILY]

Row = tuple[str, str, str | None, bool, datetime | None, str | None]


def rows(store: Store) -> dict[str, Row]:
    """What sync_sources may write, per feed: URL, title, active, next poll, ETag."""
    columns = select(
        FeedRow.name,
        FeedRow.configured_url,
        FeedRow.title,
        FeedRow.active,
        FeedRow.next_poll_at,
        FeedRow.etag,
    )
    with store.engine.connect() as connection:
        return {row.name: tuple(row) for row in connection.execute(columns)}  # type: ignore[misc]


@pytest.fixture
def synced(store: Store) -> Store:
    """FEEDS synced at NOW, then 'wire' polled: an ETag and its next poll in an hour."""
    store.sync_sources(FEEDS, NOW)
    store.record_poll(
        SourceUpdate(
            name="wire",
            polled_at=NOW,
            result="not_modified",
            next_poll_at=LATER,
            etag='"v1"',
            body_hash="b1",
            replace_validators=True,
        )
    )
    return store


def test_an_unchanged_config_changes_no_row(synced: Store) -> None:
    before = rows(synced)
    synced.sync_sources(FEEDS, LATER)
    assert rows(synced) == before


def test_a_new_title_is_stored(synced: Store) -> None:
    synced.sync_sources([WIRE, DAILY.model_copy(update={"title": "The Daily Edition"})], LATER)
    assert rows(synced)["daily"][2] == "The Daily Edition"


def test_a_feed_gone_from_the_config_becomes_inactive(synced: Store) -> None:
    synced.sync_sources([DAILY], LATER)
    assert rows(synced)["wire"][3] is False


def test_a_new_feed_is_added_due_at_once(synced: Store) -> None:
    extra = FeedConfig(name="extra", url="http://127.0.0.1:9/extra.xml")
    synced.sync_sources([*FEEDS, extra], LATER)
    assert rows(synced)["extra"][3:5] == (True, LATER)


def test_a_moved_url_is_polled_from_scratch(synced: Store) -> None:
    moved = WIRE.model_copy(update={"url": "http://127.0.0.1:9/moved.xml"})
    synced.sync_sources([moved, DAILY], LATER)
    assert rows(synced)["wire"][1:] == ("http://127.0.0.1:9/moved.xml", None, True, LATER, None)


def test_pausing_and_resuming_a_feed(synced: Store) -> None:
    paused = WIRE.model_copy(update={"enabled": False})
    synced.sync_sources([paused, DAILY], LATER)
    assert rows(synced)["wire"][3] is False
    resumed_at = LATER + timedelta(minutes=5)
    synced.sync_sources(FEEDS, resumed_at)
    assert rows(synced)["wire"][3:5] == (True, resumed_at)
