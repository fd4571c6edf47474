"""Readers' labels in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.test_store import FEEDS, NOW, make_item, travel_match, update
from watcher.store import MatchedItem, Store


def stored_item_id(store: Store) -> int:
    store.sync_sources(FEEDS, NOW)
    store.record_poll(update("wire"), [MatchedItem(make_item("a"), (travel_match(),))])
    return store.items(feed="wire")[0].id


def test_a_label_is_stored_and_replaced_by_a_later_judgement(store: Store) -> None:
    item_id = stored_item_id(store)
    store.set_label(item_id, "travel", True, origin="cli", now=NOW)
    later = store.set_label(item_id, "travel", False, origin="web", now=NOW + timedelta(hours=1))
    assert (later.relevant, later.origin) == (False, "web")
    assert store.labels(topic="travel") == [later]
    assert store.label_counts() == {"travel": (0, 1)}


def test_labels_count_per_topic_and_can_be_removed(store: Store) -> None:
    item_id = stored_item_id(store)
    store.set_label(item_id, "travel", True, origin="cli", now=NOW)
    store.set_label(item_id, "parade", False, origin="email", now=NOW)
    assert store.label_counts() == {"travel": (1, 0), "parade": (0, 1)}
    assert sorted(label.topic for label in store.labels(item_id=item_id)) == ["parade", "travel"]
    assert store.remove_label(item_id, "parade") is True
    assert store.remove_label(item_id, "parade") is False
    assert store.label_counts() == {"travel": (1, 0)}


def test_labelling_an_unknown_item_or_with_an_unknown_origin_is_refused(store: Store) -> None:
    item_id = stored_item_id(store)
    with pytest.raises(KeyError):
        store.set_label(item_id + 1000, "travel", True, origin="cli", now=NOW)
    with pytest.raises(ValueError, match="origin"):
        store.set_label(item_id, "travel", True, origin="carrier pigeon", now=NOW)
