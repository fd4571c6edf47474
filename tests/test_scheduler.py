"""Digest schedules: DST in the digest's timezone, and digests missed while the daemon was down."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watcher.config import Config, DigestConfig, FeedConfig, TopicConfig
from watcher.daemon.cron import fire_times, missed_fire_time
from watcher.daemon.scheduler import Daemon
from watcher.models import Hit, Item, TopicMatch
from watcher.store import MatchedItem, SourceUpdate, Store

BERLIN_SEVEN = DigestConfig(
    name="morning",
    recipients=("desk@example.org",),
    topics=("travel",),
    schedule="0 7 * * *",
    timezone="Europe/Berlin",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_seven_oclock_berlin_follows_daylight_saving_time() -> None:
    spring = fire_times(BERLIN_SEVEN, utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))
    assert [t.hour for t in spring] == [6, 5, 5, 5]  # CET on the 28th, CEST from the 29th
    autumn = fire_times(BERLIN_SEVEN, utc(2026, 10, 23, 12), utc(2026, 10, 27, 12))
    assert [t.hour for t in autumn] == [5, 6, 6, 6]  # CEST on the 24th, CET from the 25th
    assert len({t.date() for t in spring}) == 4  # once a day, never twice or skipped


def test_crontab_weekdays_mean_what_crontab_means() -> None:
    weekdays = BERLIN_SEVEN.model_copy(update={"schedule": "0 7 * * mon-fri"})
    # Validation rewrites numeric weekdays, so "1-5" is Monday to Friday as in crontab(5).
    from watcher.config import load_config_text

    loaded = load_config_text(
        "topics: [{name: travel, query: visit}]\n"
        "digests: [{name: morning, recipients: [a@example.org], topics: [travel],"
        " schedule: '0 7 * * 1-5', timezone: Europe/Berlin}]\n"
    ).digests[0]
    week = utc(2026, 11, 22, 12), utc(2026, 11, 29, 12)  # Sunday to Sunday
    assert fire_times(loaded, *week) == fire_times(weekdays, *week)
    assert [t.strftime("%a") for t in fire_times(loaded, *week)] == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
    ]


def test_a_digest_missed_while_down_is_found_within_the_grace_time() -> None:
    last = utc(2026, 11, 22, 6)  # sent yesterday 07:00 Berlin
    grace = timedelta(hours=6)
    assert missed_fire_time(BERLIN_SEVEN, last, utc(2026, 11, 23, 6, 30), grace) == utc(
        2026, 11, 23, 6
    )
    assert missed_fire_time(BERLIN_SEVEN, last, utc(2026, 11, 23, 5, 59), grace) is None
    assert missed_fire_time(BERLIN_SEVEN, last, utc(2026, 11, 23, 13), grace) is None
    # Down for three days: only the latest missed time counts, so one digest is sent.
    assert missed_fire_time(BERLIN_SEVEN, last, utc(2026, 11, 25, 7), grace) == utc(2026, 11, 25, 6)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_daemon_returning_after_seven_sends_the_missed_digest_once(tmp_path: Path) -> None:
    config = Config(
        database=f"sqlite:///{tmp_path / 'watcher.db'}",
        outbox=str(tmp_path / "outbox"),
        feeds=(FeedConfig(name="wire", url="http://127.0.0.1:9/wire.xml", allow_private=True),),
        topics=(TopicConfig(name="travel", query="visit"),),
        digests=(BERLIN_SEVEN,),
    )
    clock = Clock(utc(2026, 11, 22, 6))
    with Store.open(config.database) as store:
        store.upgrade()
        store.sync_sources(config.feeds, clock())

        def add_item(key: str) -> None:
            item = Item(
                feed="wire",
                key=key,
                url=None,
                title=f"State visit {key}",
                summary="",
                content_hash=key,
            )
            store.record_poll(
                SourceUpdate(
                    name="wire", polled_at=clock(), result="new_items", next_poll_at=clock()
                ),
                new=[
                    MatchedItem(item, (TopicMatch("travel", 1.0, (Hit("title", 6, 11, "visit"),)),))
                ],
            )

        daemon = Daemon(config, store, clock=clock)
        daemon.pipeline.digests.rng = random.Random(3)
        try:
            add_item("one")
            daemon.send_scheduled_digest("morning")  # yesterday's 07:00 run
            add_item("two")
            clock.now = utc(2026, 11, 23, 8)  # back at 09:00 Berlin, two hours late
            daemon.catch_up_digests()
            daemon.delivery_round()  # the delivery thread sends what catch-up queued
            daemon.catch_up_digests()  # a second start does not send it again
            daemon.delivery_round()
        finally:
            daemon.executor.shutdown(0)
            daemon.pipeline.close()
        assert store.digest_run_count("morning", "sent") == 2
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


def test_health_fails_when_the_dispatcher_is_stuck_or_the_database_is_gone(
    tmp_path: Path,
) -> None:
    config = Config(database=f"sqlite:///{tmp_path / 'watcher.db'}", outbox=str(tmp_path / "o"))
    with Store.open(config.database) as store:
        store.upgrade()
        daemon = Daemon(config, store)
        try:
            assert daemon.health().ok
            daemon.last_dispatch -= 3600  # no dispatch for an hour
            stuck = daemon.health()
            assert not stuck.ok and stuck.checks["scheduler"].startswith("stuck")
            daemon.last_dispatch += 3600
            (tmp_path / "watcher.db").unlink()
            store.engine.dispose()
            (tmp_path / "watcher.db").mkdir()  # the database file is gone for good
            broken = daemon.health()
            assert not broken.ok and broken.checks["database"] != "ok"
        finally:
            daemon.executor.shutdown(0)
            daemon.pipeline.close()
