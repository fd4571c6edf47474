"""Outbox semantics over real SMTP: claimed once, retried, re-sent with the same Message-ID
after a crash, and immediate alerts batching what one poll found."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtp_server import RecordingHandler, RunningSmtpServer, running_smtp_server
from watcher.clock import utc_now
from watcher.config import load_config
from watcher.models import Hit, Item, TopicMatch
from watcher.pipeline import Pipeline
from watcher.store import MatchedItem, SourceUpdate, Store

REPO = Path(__file__).resolve().parents[1]


class StallingHandler(RecordingHandler):
    """Records a message at DATA, then holds the reply until released: the client
    is killed while the server has already accepted the message."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 20)
        return reply


def write_config(tmp: Path, smtp: RunningSmtpServer, *, immediate: bool = False) -> Path:
    schedule = "immediate: true" if immediate else 'schedule: "0 7 * * *"'
    path = tmp / "feeds.yaml"
    path.write_text(
        f"""\
database: sqlite:///{tmp}/watcher.db
smtp: {{host: {smtp.host}, port: {smtp.port}, sender: watcher@example.org, timeout: 2s}}
feeds:
  - {{name: wire, url: "http://127.0.0.1:9/wire.xml", title: Northwind Wire, allow_private: true}}
topics:
  - {{name: travel, title: Leader travel, query: visit}}
digests:
  - {{name: morning, title: Morning digest, recipients: [desk@example.org], topics: [travel],
      {schedule}}}
""",
        encoding="utf-8",
    )
    return path


# Distinct events, so that each item is a story of its own (see watcher.cluster).
EVENTS = {
    "a": "Premier begins state visit to Arland ({key})",
    "b": "Chancellor lands in Borovia for visit on grain exports ({key})",
    "c": "President Ostrava opens visit to the Calder islands summit ({key})",
    "a2": "Premier begins state visit to Arland, second report ({key})",
}


def store_items(config_path: Path, keys: list[str]) -> None:
    config = load_config(config_path)
    with Store.open(config.database) as store:
        store.upgrade()
        store.sync_sources(config.feeds, utc_now())
        new = [
            MatchedItem(
                Item(
                    feed="wire",
                    key=key,
                    url=f"https://northwind.example/{key}",
                    title=EVENTS[key].format(key=key),
                    summary=f"Our desk's report on {EVENTS[key].split(' (')[0].lower()}.",
                    content_hash=key,
                ),
                (TopicMatch("travel", 1.0, (Hit("title", 0, 5, "visit"),)),),
            )
            for key in keys
        ]
        store.record_poll(
            SourceUpdate(
                name="wire", polled_at=utc_now(), result="new_items", next_poll_at=utc_now()
            ),
            new=new,
        )


def send_in_subprocess(config_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watcher",
            "--config",
            str(config_path),
            "digest",
            "send",
            "morning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.fixture
def stalling() -> Iterator[tuple[RunningSmtpServer, StallingHandler]]:
    handler = StallingHandler()
    with running_smtp_server(handler) as server:
        try:
            yield server, handler
        finally:
            handler.release.set()


@pytest.mark.slow
def test_crash_after_smtp_accepted_resends_same_message_id(
    tmp_path: Path, stalling: tuple[RunningSmtpServer, StallingHandler]
) -> None:
    server, handler = stalling
    config_path = write_config(tmp_path, server)
    store_items(config_path, ["a", "b"])
    doomed = send_in_subprocess(config_path)
    assert handler.arrived.wait(60), "the digest never reached the SMTP server"
    doomed.send_signal(signal.SIGKILL)  # accepted by the server, never committed as sent
    doomed.communicate(timeout=30)
    handler.release.set()
    # The dead sender's delivery stays taken for its lease (3 x the 2 s SMTP timeout),
    # so that no other sender doubles it; then it is due again.
    time.sleep(6.5)
    first = handler.received[0].message

    store_items(config_path, ["c"])  # matched after the crashed run's claim
    with running_smtp_server() as healthy:
        config_path = write_config(tmp_path, healthy)
        retry = send_in_subprocess(config_path)
        out, err = retry.communicate(timeout=60)
        assert retry.returncode == 0, out + err
        received = [r.message for r in healthy.handler.received]
    assert len(received) == 2  # the re-send of the crashed run, then a run for "c"
    resent, fresh = sorted(received, key=lambda m: m["Message-ID"] != first["Message-ID"])
    assert resent["Message-ID"] == first["Message-ID"]
    assert resent["Subject"] == first["Subject"]
    assert "(a)" in resent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    fresh_text = fresh.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "(c)" in fresh_text and "(a)" not in fresh_text and "(b)" not in fresh_text

    config = load_config(config_path)
    with Store.open(config.database) as store:
        assert store.digest_run_count("morning", "sent") == 2
        assert store.pending_digest_runs(utc_now() + timedelta(hours=48)) == []


def test_greylisting_is_retried_and_survives_a_restart(tmp_path: Path) -> None:
    with running_smtp_server(RecordingHandler(greylist=1)) as server:
        config_path = write_config(tmp_path, server)
        store_items(config_path, ["a"])
        config = load_config(config_path)
        with Store.open(config.database) as store, Pipeline(config, store) as pipeline:
            outcomes = pipeline.digests.send_digest(config.digest("morning"))
            assert [o.status for o in outcomes] == ["retry"]
        # A new process (a restart) finds the pending run and sends it when due.
        later = utc_now() + timedelta(hours=2)
        with (
            Store.open(config.database) as store,
            Pipeline(config, store, clock=lambda: later) as pipeline,
        ):
            outcomes = pipeline.digests.send_digest(config.digest("morning"))
            assert [o.status for o in outcomes] == ["sent"]
        assert len(server.handler.received) == 1
        assert server.handler.transactions == 2


def test_immediate_alerts_batch_a_poll_and_never_repeat(tmp_path: Path) -> None:
    with running_smtp_server() as server:
        config_path = write_config(tmp_path, server, immediate=True)
        config = load_config(config_path)
        store_items(config_path, ["a", "b"])
        with Store.open(config.database) as store, Pipeline(config, store) as pipeline:
            first = pipeline.digests.send_immediate_alerts()
            assert [(o.status, o.items) for o in first] == [("sent", 2)]
            assert pipeline.digests.send_immediate_alerts() == []
        store_items(config_path, ["c"])
        with Store.open(config.database) as store, Pipeline(config, store) as pipeline:
            assert [(o.status, o.items) for o in pipeline.digests.send_immediate_alerts()] == [
                ("sent", 1)
            ]
        assert len(server.handler.received) == 2


def test_an_alerted_story_is_not_alerted_again_but_joins_the_scheduled_digest(
    tmp_path: Path,
) -> None:
    with running_smtp_server() as server:
        config_path = write_config(tmp_path, server, immediate=True)
        text = config_path.read_text(encoding="utf-8")
        config_path.write_text(
            text + "  - {name: daily, title: Daily digest, recipients: [desk@example.org], "
            'topics: [travel], schedule: "0 7 * * *"}\n',
            encoding="utf-8",
        )
        config = load_config(config_path)
        store_items(config_path, ["a"])
        with Store.open(config.database) as store, Pipeline(config, store) as pipeline:
            assert [o.items for o in pipeline.digests.send_immediate_alerts()] == [1]
        store_items(config_path, ["a2"])  # another outlet reports the same event
        with Store.open(config.database) as store, Pipeline(config, store) as pipeline:
            assert pipeline.digests.send_immediate_alerts() == []
            daily = pipeline.digests.send_digest(config.digest("daily"))
        assert [(o.status, o.items) for o in daily] == [("sent", 1)]
        assert len(server.handler.received) == 2
        digest_text = server.handler.received[1].message.get_body(("plain",))
        assert digest_text is not None
        body = digest_text.get_content()
        assert "Also reported by" in body or "also reported by" in body.lower()
