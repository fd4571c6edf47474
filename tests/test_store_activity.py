"""The dashboard's store reads (recent matches, claims, labels by item), on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests.test_store import FEEDS, NOW, make_item, travel_match, update
from watcher.config import DigestConfig
from watcher.models import TopicMatch
from watcher.store import MatchedItem, Store


def seed(store: Store) -> dict[str, int]:
    store.sync_sources(FEEDS, NOW)
    store.record_poll(
        update("wire", polled_at=NOW - timedelta(days=3)),
        [MatchedItem(make_item("old"), (travel_match(),))],
    )
    store.record_poll(
        update("wire"),
        [
            MatchedItem(make_item("new", "Leader arrives"), (travel_match(),)),
            MatchedItem(make_item("other", "Harbour news"), (TopicMatch("ports", 1.0),)),
            MatchedItem(make_item("plain", "Nothing matched"), ()),
        ],
    )
    return {stored.item.key: stored.id for stored in store.items(limit=10)}


def test_matched_items_since_keeps_recent_matches_only(store: Store) -> None:
    ids = seed(store)
    recent = store.matched_items_since(NOW - timedelta(days=1))
    assert sorted(stored.id for stored in recent) == sorted([ids["new"], ids["other"]])
    assert all(stored.matches for stored in recent)
    travel = store.matched_items_since(NOW - timedelta(days=1), topic="travel")
    assert [stored.id for stored in travel] == [ids["new"]]
    assert len(store.matched_items_since(NOW - timedelta(days=7))) == 3
    assert len(store.matched_items_since(NOW - timedelta(days=7), limit=1)) == 1


def test_item_claims_say_which_digest_runs_took_an_item(store: Store) -> None:
    ids = seed(store)
    assert store.item_claims([ids["new"]]) == {}
    digest = DigestConfig(name="morning", topics=("travel",), schedule="0 7 * * *")
    run = store.claim_digest(digest, NOW)
    assert run is not None
    store.mark_delivery(run.id, "email", now=NOW)
    claims = store.item_claims([ids["new"], ids["old"], ids["other"]])
    assert set(claims) == {ids["new"], ids["old"]}
    [claim] = claims[ids["new"]]
    assert (claim.digest, claim.topic, claim.status, claim.sent_at) == (
        "morning",
        "travel",
        "sent",
        NOW,
    )
    assert not claim.suppressed


def test_labels_of_items_map_item_and_topic_to_the_judgement(store: Store) -> None:
    ids = seed(store)
    store.set_label(ids["new"], "travel", True, origin="web", now=NOW)
    store.set_label(ids["other"], "ports", False, origin="email", now=NOW)
    assert store.labels_of_items([ids["new"], ids["other"], ids["old"]]) == {
        (ids["new"], "travel"): True,
        (ids["other"], "ports"): False,
    }
    assert store.labels_of_items([]) == {}


def test_story_outlets_give_one_item_per_feed_and_members_are_capped(store: Store) -> None:
    ids = seed(store)
    store.record_poll(
        update("daily"), [MatchedItem(make_item("c1", "Leader lands", feed="daily"), ())]
    )
    courier = store.items(feed="daily")[0].id
    story = ids["old"]
    store.set_stories(
        [(item_id, story, "{}") for item_id in (ids["old"], ids["new"], ids["plain"], courier)]
    )
    [outlets] = store.story_outlets([story]).values()
    assert [(s.item.feed, s.id) for s in outlets] == [("wire", ids["old"]), ("daily", courier)]
    members, total = store.story_members(story, limit=2)
    assert (
        total == 4 and [s.id for s in members] == sorted([ids["old"], ids["new"], ids["plain"]])[:2]
    )
    assert store.story_outlets([]) == {}
