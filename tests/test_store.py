"""The store on SQLite and PostgreSQL: feeds, items, matches, digest claims, migrations."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text

from watcher.config import DigestConfig, FeedConfig
from watcher.exceptions import SchemaError, StoreError
from watcher.models import Hit, Item, TopicMatch
from watcher.store import Base, DigestRunRow, MatchedItem, SourceUpdate, Store, records
from watcher.store.base import HEAD_REVISION

NOW = datetime(2026, 9, 2, 8, 0, tzinfo=UTC)
FEEDS = [
    FeedConfig(name="wire", url="http://127.0.0.1:9/wire.xml"),
    FeedConfig(name="daily", url="http://127.0.0.1:9/daily.xml", title="The Daily"),
]
MORNING = DigestConfig(
    name="morning", recipients=("desk@example.org",), topics=("travel",), schedule="0 7 * * *"
)


def make_item(key: str, title: str = "Leader leaves for the summit", feed: str = "wire") -> Item:
    return Item(
        feed=feed,
        key=key,
        url=f"https://news.example/{key}",
        title=title,
        summary="A summary in our own words.",
        content_hash=f"hash-{title}",
        published=NOW - timedelta(hours=1),
        tags=("world",),
    )


def travel_match(score: float = 2.0) -> TopicMatch:
    return TopicMatch("travel", score, (Hit("title", 0, 6, "leader"),))


def claimed(store: Store, now: datetime = NOW) -> list[str]:
    """The names of the sources due at ``now`` (claimed, as a poller would)."""
    return store.claim_due_sources(now, lease=timedelta(minutes=1), limit=100, per_host=100)


def digest_runs(store: Store, digest: str, status: str) -> int:
    """How many runs of ``digest`` have ``status``, read straight from the table."""
    with store.engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count()).where(
                    DigestRunRow.digest == digest, DigestRunRow.status == status
                )
            )
            or 0
        )


def update(name: str = "wire", **changes: object) -> SourceUpdate:
    values: dict[str, object] = {
        "name": name,
        "polled_at": NOW,
        "result": "new_items",
        "next_poll_at": NOW + timedelta(minutes=15),
        "etag": '"v1"',
        "body_hash": "b1",
        "replace_validators": True,
    }
    values.update(changes)
    return SourceUpdate(**values)  # type: ignore[arg-type]


def test_migrations_match_the_models(database_url: str) -> None:
    from watcher import migrations

    with Store.open(database_url) as migrated:
        migrations.upgrade(migrated.engine)
        with migrated.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
        migrated.check_schema()


def _schema(engine: Engine) -> dict[str, object]:
    """Every table's columns (type, nullability, server default), indexes, unique
    constraints, foreign keys (with their ON DELETE) and primary key."""
    found = inspect(engine)
    return {
        table: (
            {
                column["name"]: (str(column["type"]), column["nullable"], column.get("default"))
                for column in found.get_columns(table)
            },
            sorted(
                (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                for index in found.get_indexes(table)
            ),
            sorted(tuple(unique["column_names"]) for unique in found.get_unique_constraints(table)),
            sorted(
                (
                    tuple(key["constrained_columns"]),
                    key["referred_table"],
                    tuple(key["referred_columns"]),
                    sorted(key.get("options", {}).items()),
                )
                for key in found.get_foreign_keys(table)
            ),
            found.get_pk_constraint(table)["constrained_columns"],
        )
        for table in found.get_table_names()
    }


def test_a_new_database_is_created_with_the_schema_the_migrations_make(
    database_url: str,
) -> None:
    from watcher import migrations

    with Store.open(database_url) as store:
        store.upgrade()  # an empty database: created from the models, stamped at head
        store.check_schema()
        created = _schema(store.engine)
        with store.engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE alembic_version"))
        migrations.upgrade(store.engine)
        assert _schema(store.engine) == created
        assert len(created) == len(Base.metadata.tables) + 1  # and alembic_version


def test_four_stores_creating_one_new_database_at_once_create_it_once(database_url: str) -> None:
    stores = [Store.open(database_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            list(pool.map(Store.upgrade, stores))
        for store in stores:
            store.check_schema()
        with stores[0].engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert list(versions.scalars()) == [HEAD_REVISION]
    finally:
        for store in stores:
            store.close()


def test_an_empty_database_is_reported_as_not_migrated(database_url: str) -> None:
    with Store.open(database_url) as fresh, pytest.raises(SchemaError, match="db upgrade"):
        fresh.check_schema()


def test_head_revision_constant_is_the_newest_migration() -> None:
    from watcher import migrations

    assert migrations.head_revision() == HEAD_REVISION


def test_a_database_one_migration_behind_is_reported_as_not_migrated(database_url: str) -> None:
    from watcher import migrations

    with Store.open(database_url) as older:
        migrations.upgrade(older.engine, "0008")
        with pytest.raises(SchemaError, match="db upgrade"):
            older.check_schema()
        older.upgrade()
        older.check_schema()


def test_entry_digests_arrive_empty_by_migration_and_are_kept_with_the_items(
    database_url: str,
) -> None:

    from watcher import migrations

    with Store.open(database_url) as older:
        migrations.upgrade(older.engine, "0008")
        with older.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO feeds (name, configured_url, url, host, active, error_count,"
                    " created_at) VALUES ('wire', 'http://w/', 'http://w/', 'w', true, 0,"
                    " '2026-09-01 00:00:00')"
                )
            )
        older.upgrade()
        assert older.source_state("wire").entry_digests == frozenset()
        older.record_poll(
            update(entry_digests=("d1", "d2")), new=[MatchedItem(make_item("k1"), ())]
        )
        assert older.source_state("wire").entry_digests == {"d1", "d2"}
        # A poll that brought no body keeps them; one that parsed a body replaces them.
        older.record_feed_result(update(result="not_modified", replace_validators=False))
        assert older.source_state("wire").entry_digests == {"d1", "d2"}
        older.record_poll(update(entry_digests=None))
        assert older.source_state("wire").entry_digests == frozenset()


def test_creating_checking_or_upgrading_a_current_database_does_not_import_alembic(
    tmp_path: Path,
) -> None:
    # Alembic and mako stay resident once imported (~14 MB, in a daemon that created
    # its database at its first start); only an older schema needs them.
    url = f"sqlite:///{tmp_path / 'watcher.db'}"
    script = (
        "import sys\n"
        "from watcher.store import Store\n"
        f"with Store.open({url!r}) as store:\n"
        "    store.upgrade()\n"  # an empty database, created
        "    store.check_schema()\n"
        "    store.upgrade()\n"  # a current one, left alone
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


def test_sync_feeds_adds_deactivates_and_follows_config_url_changes(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    assert store.count_due_sources(NOW) == 2
    store.record_poll(update("wire", url="http://127.0.0.1:9/moved.xml"))
    assert store.source_state("wire").url == "http://127.0.0.1:9/moved.xml"
    moved = [FeedConfig(name="wire", url="http://127.0.0.1:9/new.xml")]
    store.sync_sources(moved, NOW)
    state = store.source_state("wire")
    assert state.url == "http://127.0.0.1:9/new.xml"
    assert state.etag is None
    assert store.count_due_sources(NOW) == 1  # 'daily' left the config: inactive
    assert claimed(store) == ["wire"]


def test_record_poll_stores_items_once_and_updates_changed_ones(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    first = store.record_poll(
        update(),
        new=[MatchedItem(make_item("a"), (travel_match(),)), MatchedItem(make_item("b"), ())],
    )
    assert (first.new_items, first.new_matches) == (2, 1)
    again = store.record_poll(update(), new=[MatchedItem(make_item("a"), (travel_match(),))])
    assert again.new_items == 0
    assert store.known_hashes("wire", ["a", "b", "c"]) == {
        "a": "hash-Leader leaves for the summit",
        "b": "hash-Leader leaves for the summit",
    }
    edited = make_item("a", title="Leader leaves for the summit (updated)")
    changed = store.record_poll(update(), changed=[MatchedItem(edited, (travel_match(),))])
    assert (changed.changed_items, changed.new_matches) == (1, 0)
    items = store.items(feed="wire")
    assert sorted(stored.item.title for stored in items) == [
        "Leader leaves for the summit",
        "Leader leaves for the summit (updated)",
    ]
    matched = store.items(topic="travel")
    assert [stored.item.key for stored in matched] == ["a"]
    assert matched[0].matches[0].hits == (Hit("title", 0, 6, "leader"),)
    assert matched[0].item.published == NOW - timedelta(hours=1)
    assert matched[0].item.tags == ("world",)


def test_a_poll_is_one_transaction(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.sync_sources(FEEDS, NOW)

    def crash(*_args: object) -> None:
        raise RuntimeError("killed between items and feed state")

    monkeypatch.setattr(records, "apply_feed_update", crash)
    with pytest.raises(RuntimeError):
        store.record_poll(update(), new=[MatchedItem(make_item("a"), (travel_match(),))])
    assert store.items(feed="wire") == []
    assert store.source_state("wire").etag is None


def test_claims_never_put_a_match_in_two_runs_of_one_digest(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    store.record_poll(update(), new=[MatchedItem(make_item("a"), (travel_match(),))])
    assert [s.item.key for s in store.unclaimed_items(MORNING)] == ["a"]
    run = store.claim_digest(MORNING, NOW)
    assert run is not None
    assert [stored.item.key for stored in run.items] == ["a"]
    assert store.claim_digest(MORNING, NOW) is None  # nothing new
    assert store.unclaimed_items(MORNING) == []
    evening = MORNING.model_copy(update={"name": "evening"})
    other = store.claim_digest(evening, NOW)  # another digest name claims independently
    assert other is not None and len(other.items) == 1
    store.record_poll(update(), new=[MatchedItem(make_item("b"), (travel_match(0.5),))])
    strict = MORNING.model_copy(update={"min_score": 1.0})
    assert store.claim_digest(strict, NOW) is None  # below the digest's min_score
    assert store.pending_digest_runs(NOW, "morning")[0].id == run.id


def test_digest_run_lifecycle_with_one_delivery_per_target(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    store.record_poll(update(), new=[MatchedItem(make_item("a"), (travel_match(),))])
    run = store.claim_digest(MORNING, NOW, ["email", "channel:chat"])
    assert run is not None
    assert [(d.target, d.status) for d in run.due(NOW)] == [
        ("email", "pending"),
        ("channel:chat", "pending"),
    ]
    store.set_message_id(run.id, "<one@watcher>")
    store.set_message_id(run.id, "<two@watcher>")  # the first id sticks
    later = NOW + timedelta(minutes=5)
    store.mark_delivery(run.id, "email", now=NOW, error="451 try later", retry_at=later)
    store.mark_delivery(run.id, "channel:chat", now=NOW)  # the chat got it
    assert store.pending_digest_runs(NOW) == []
    retry = store.pending_digest_runs(later)
    assert [(r.message_id, [d.target for d in r.due(later)]) for r in retry] == [
        ("<one@watcher>", ["email"])  # only the email is tried again, never the chat
    ]
    store.mark_delivery(run.id, "email", now=later)
    assert store.pending_digest_runs(NOW + timedelta(days=1)) == []
    assert store.last_digest_sent() == {"morning": later}


def test_a_permanent_failure_ends_the_run_once_nothing_is_pending(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    store.record_poll(update(), new=[MatchedItem(make_item("a"), (travel_match(),))])
    run = store.claim_digest(MORNING, NOW, ["email", "channel:chat"])
    assert run is not None
    store.mark_delivery(run.id, "channel:chat", now=NOW, error="404 no such hook")
    assert [r.id for r in store.pending_digest_runs(NOW)] == [run.id]  # email still due
    store.mark_delivery(run.id, "email", now=NOW)
    assert store.pending_digest_runs(NOW + timedelta(days=1)) == []
    assert digest_runs(store, "morning", "failed") == 1


def test_send_empty_creates_a_run_with_no_items(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    run = store.claim_digest(MORNING.model_copy(update={"send_empty": True}), NOW)
    assert run is not None and run.items == ()


def test_retention_keeps_matched_items_longer(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    store.record_poll(
        update(),
        new=[
            MatchedItem(make_item("kept"), (travel_match(),)),
            MatchedItem(make_item("dropped"), ()),
        ],
    )
    removed = store.delete_items_before(NOW + timedelta(seconds=1), NOW - timedelta(days=1))
    assert removed == 1
    assert [s.item.key for s in store.items()] == ["kept"]


def test_unreachable_databases_fail_with_one_line() -> None:
    with pytest.raises(StoreError, match="cannot connect"):
        Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="not a database URL"):
        Store.open("::nonsense::")


def test_leases_keep_a_feed_with_one_poller_and_hosts_polite(store: Store) -> None:
    feeds = [FeedConfig(name=f"a{n}", url=f"http://a.example/{n}.xml") for n in range(5)] + [
        FeedConfig(name=f"b{n}", url=f"http://b.example:8080/{n}.xml") for n in range(2)
    ]
    store.sync_sources(feeds, NOW)
    lease = timedelta(minutes=5)
    first = store.claim_due_sources(NOW, lease=lease, limit=10, per_host=2)
    assert sorted(first) == ["a0", "a1", "b0", "b1"]  # two per host
    assert store.claim_due_sources(NOW, lease=lease, limit=10, per_host=2) == []
    assert store.count_due_sources(NOW) == 3
    store.record_poll(update("a0", next_poll_at=NOW + timedelta(hours=1)))  # clears a0's lease
    assert sorted(store.claim_due_sources(NOW, lease=lease, limit=10, per_host=2)) == ["a2"]
    store.release_lease("a1")
    assert store.claim_due_sources(NOW, lease=lease, limit=1, per_host=5) == ["a1"]
    # A dead poller's lease expires and its feeds come round again.
    later = NOW + lease + timedelta(seconds=1)
    assert sorted(store.claim_due_sources(later, lease=lease, limit=10, per_host=10)) == [
        "a1",
        "a2",
        "a3",
        "a4",
        "b0",
        "b1",
    ]


def test_concurrent_claimers_never_share_a_feed(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    feeds = [FeedConfig(name=f"f{n}", url=f"http://h{n % 7}.example/{n}") for n in range(60)]
    store.sync_sources(feeds, NOW)

    def claim(_: int) -> list[str]:
        got: list[str] = []
        for _round in range(10):
            got += store.claim_due_sources(NOW, lease=timedelta(minutes=5), limit=3, per_host=10)
        return got

    with ThreadPoolExecutor(4) as pool:
        claims = [name for names in pool.map(claim, range(4)) for name in names]
    assert len(claims) == len(set(claims)) == 60


def test_a_delivery_is_taken_by_one_sender_until_its_lease_ends(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    store.record_poll(update(), new=[MatchedItem(make_item("a"), (travel_match(),))])
    run = store.claim_digest(MORNING, NOW)
    assert run is not None
    lease = timedelta(minutes=2)
    assert store.begin_delivery(run.id, "email", now=NOW, lease=lease)
    assert not store.begin_delivery(run.id, "email", now=NOW, lease=lease)  # taken
    assert [r.due(NOW) for r in store.pending_digest_runs(NOW)] == [[]]  # nothing due now
    later = NOW + lease
    assert store.begin_delivery(run.id, "email", now=later, lease=lease)  # the sender died
    store.mark_delivery(run.id, "email", now=later)
    assert not store.begin_delivery(run.id, "email", now=later + lease, lease=lease)


def test_a_sole_daemon_at_start_gets_back_the_sources_a_killed_one_claimed(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    names = sorted(source.name for source in FEEDS)
    lease = timedelta(minutes=5)
    assert sorted(store.claim_due_sources(NOW, lease=lease, limit=100, per_host=100)) == names
    restart = NOW + timedelta(seconds=5)
    assert store.claim_due_sources(restart, lease=lease, limit=100, per_host=100) == []
    assert store.release_source_leases() == len(names)
    assert sorted(store.claim_due_sources(restart, lease=lease, limit=100, per_host=100)) == names
    store.release_source_leases()
    assert store.release_source_leases() == 0


def test_a_sole_sender_at_start_makes_taken_and_waiting_deliveries_due(store: Store) -> None:
    store.sync_sources(FEEDS, NOW)
    store.record_poll(update(), new=[MatchedItem(make_item("a"), (travel_match(),))])
    run = store.claim_digest(MORNING, NOW, ["email", "channel:chat"])
    assert run is not None
    # The email was being sent when the process died; the channel waits for a retry.
    assert store.begin_delivery(run.id, "email", now=NOW, lease=timedelta(minutes=5))
    store.mark_delivery(
        run.id, "channel:chat", now=NOW, error="503", retry_at=NOW + timedelta(hours=1)
    )
    restart = NOW + timedelta(seconds=5)
    assert store.pending_digest_runs(restart) == []
    assert store.release_delivery_leases(restart) == 2
    [due] = store.pending_digest_runs(restart)
    assert {delivery.target for delivery in due.due(restart)} == {"email", "channel:chat"}
    assert store.release_delivery_leases(restart) == 0


def test_feed_updates_of_every_shape_write_what_they_carry(store: Store) -> None:
    # Each combination of optional columns is one cached statement: check what each writes.
    store.sync_sources(FEEDS, NOW)
    later = NOW + timedelta(hours=1)
    store.record_feed_result(
        update(result="failed:timeout", error_count=1, last_error="timeout: slow")
    )
    store.record_feed_result(
        update(polled_at=later, result="failed:timeout", error_count=2, last_error="timeout: x")
    )
    (health,) = [h for h in store.source_health() if h.name == "wire"]
    assert (health.error_count, health.last_error) == (2, "timeout: x")
    assert health.failing_since == NOW  # kept from the first failure
    store.record_feed_result(
        update(
            polled_at=later,
            result="not_modified",
            url="https://moved.example.net/feed.xml",
            replace_validators=False,
        )
    )
    state = store.source_state("wire")
    assert state.url == "https://moved.example.net/feed.xml"
    assert (state.error_count, state.last_error, state.etag) == (0, None, '"v1"')
    (health,) = [h for h in store.source_health() if h.name == "wire"]
    assert health.failing_since is None
    assert health.moved_to == "https://moved.example.net/feed.xml"
    store.record_feed_result(update(title="Served title", page_text="page words"))
    state = store.source_state("wire")
    assert (state.etag, state.body_hash, state.page_text) == ('"v1"', "b1", "page words")
    (status,) = [s for s in store.source_statuses() if s.state.name == "wire"]
    assert status.last_result == "new_items"
    store.record_feed_result(
        update(result="gone", error_count=1, last_error="gone: 410", disabled_reason="410 Gone")
    )
    assert store.source_state("wire").disabled_reason == "410 Gone"


def test_feed_updates_written_together_each_land_on_their_own_source(store: Store) -> None:
    # A poll of many sources writes its 304s in one executemany per shape of UPDATE.
    store.sync_sources(FEEDS, NOW)
    store.record_feed_result(update("daily", result="failed:timeout", error_count=3))
    later = NOW + timedelta(hours=1)
    store.record_feed_results(
        [
            update(polled_at=later, result="not_modified", replace_validators=False),
            update(
                "daily",
                polled_at=later,
                result="not_modified",
                replace_validators=False,
                url="https://moved.example.net/daily.xml",
            ),
        ]
    )
    wire, daily = store.source_state("wire"), store.source_state("daily")
    assert (wire.last_polled_at, wire.url, wire.error_count) == (later, FEEDS[0].url, 0)
    assert (daily.last_polled_at, daily.url, daily.error_count) == (
        later,
        "https://moved.example.net/daily.xml",
        0,
    )
    store.record_feed_results([])  # nothing to write: no transaction either
