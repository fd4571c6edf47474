"""Feed-health notices through the pipeline: one notice for a long failure, one recovery,
over a real SMTP server; never one per failed poll."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.feed_server import running_feed_server
from tests.smtp_server import running_smtp_server
from watcher.config import Config, Defaults, FeedConfig, SmtpConfig, TopicConfig
from watcher.pipeline import Pipeline
from watcher.store import Store

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Log</title>
<item><title>Tide tables revised</title><guid>t1</guid><link>https://h.example/1</link></item>
</channel></rss>"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.slow
def test_one_notice_per_outage_and_one_recovery(tmp_path: Path) -> None:
    clock = Clock()
    with running_feed_server() as feeds, running_smtp_server() as smtp:
        feeds.put("/log.rss", RSS, status=500)
        config = Config(
            database=f"sqlite:///{tmp_path / 'watcher.db'}",
            defaults=Defaults(per_host_delay=timedelta(milliseconds=1)),
            feeds=(FeedConfig(name="harbour", url=feeds.url("/log.rss"), allow_private=True),),
            topics=(TopicConfig(name="tides", query="tide*"),),
            smtp=SmtpConfig(host=smtp.host, port=smtp.port, sender="watcher@example.org"),
            operators=("ops@example.org",),
        )
        with Store.open(config.database) as store:
            store.upgrade()
            store.sync_sources(config.feeds, clock())
            with Pipeline(config, store, clock=clock, rng=random.Random(5)) as pipeline:
                for _poll in range(30 * 4):  # 30 hours of polls every 15 minutes
                    assert pipeline.poll_one(config.feeds[0]).result == "failed"
                    pipeline.operators.send_health_notices()
                    clock.now += timedelta(minutes=15)
                assert len(smtp.handler.received) == 1
                failing = smtp.handler.received[0].message
                assert failing["To"] == "ops@example.org"
                assert "harbour" in str(failing["Subject"])
                feeds.put("/log.rss", RSS)  # the site is back
                for _poll in range(8):
                    pipeline.poll_one(config.feeds[0])
                    pipeline.operators.send_health_notices()
                    clock.now += timedelta(minutes=15)
    assert len(smtp.handler.received) == 2
    recovered = smtp.handler.received[1].message.get_body(("plain",))
    assert recovered is not None and "works again" in recovered.get_content()
