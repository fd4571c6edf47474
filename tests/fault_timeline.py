"""What the fault suite (tests/test_faults.py) publishes, reads back and reports:
batches of stories, the store as the test sees it, the end-of-run checks and the
fault matrix."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from tests.fault_servers import (
    FaultySmtp,
    Newsroom,
    Story,
)
from tests.fault_stores import Database
from watcher.store import DeliveryRow, DigestClaimRow, DigestRunRow, FeedRow, ItemRow, MatchRow

SHUTDOWN_WAIT = 5.0
SMTP_TIMEOUT = 5.0
DELIVER_WITHIN = 60.0  # the bound, from a fault clearing to the alert delivered
STOP_WITHIN = SHUTDOWN_WAIT + 5.0  # the bound for SIGTERM
DB_FAULT_SECONDS = 20.0
FETCH_TIMEOUT = 5.0
POLL_INTERVAL = 3.0
# A source that a killed daemon had claimed is polled again once its claim's lease
# ends (four fetch timeouts, watcher.daemon.scheduler.poll_lease): on PostgreSQL
# nothing releases it at a start, as another daemon may poll the same database.
# What is not stored by then, a poll interval and a poll later never will be.
STORED_WITHIN = 4 * FETCH_TIMEOUT + POLL_INTERVAL + 10.0
DIGESTS = ("alerts", "minutely")

# -- the timeline --------------------------------------------------------------------


@dataclass
class Batch:
    """What one step publishes: matching and other stories, and a watched-page line."""

    number: int
    feed: list[Story]
    page: list[Story]
    notice: str

    @classmethod
    def make(cls, number: int) -> Batch:
        return cls(
            number,
            feed=[Story(f"w{number}a", True), Story(f"w{number}b", False)],
            page=[Story(f"s{number}a", True), Story(f"s{number}b", False)],
            notice=f"Notice rev{number}x{uuid.uuid4().hex[:6]}",
        )


@dataclass
class Row:
    """One line of the fault matrix."""

    fault: str
    store: str
    lost: int | None = None  # matches of the batch in no message of a digest, items unstored
    doubled: int | None = None  # matches of the batch in more than one message of a digest
    seconds_to_deliver: float | None = None  # fault cleared -> last alert of the batch in
    seconds_to_stop: float | None = None  # SIGTERM -> exit
    note: str = ""


@dataclass
class Timeline:
    database: Database
    newsroom: Newsroom
    smtp_port: int
    tmp: Path
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    batches: dict[int, Batch] = field(default_factory=dict)
    batch_of_row: dict[str, int] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)

    @property
    def store(self) -> str:
        return self.database.kind

    # Reading the store (NullPool: a connection per look, so a cut connection is no matter).

    def stored_match_keys(self) -> set[str]:
        """The identifiers (see ``match_key``) of every match stored so far."""
        engine = self.database.engine()
        try:
            with engine.connect() as db:
                rows = db.execute(
                    select(FeedRow.name, ItemRow.url, ItemRow.content_text)
                    .join_from(MatchRow, ItemRow, MatchRow.item_id == ItemRow.id)
                    .join(FeedRow, FeedRow.id == ItemRow.feed_id)
                ).all()
        finally:
            engine.dispose()
        return {match_key(name, url, text) for name, url, text in rows}

    def settled(self, digest: str) -> set[str]:
        """Matches whose claim by ``digest`` is final: held back, or in a run sent."""
        engine = self.database.engine()
        try:
            with engine.connect() as db:
                rows = db.execute(
                    select(FeedRow.name, ItemRow.url, ItemRow.content_text)
                    .join_from(DigestClaimRow, MatchRow, DigestClaimRow.match_id == MatchRow.id)
                    .join(ItemRow, ItemRow.id == MatchRow.item_id)
                    .join(FeedRow, FeedRow.id == ItemRow.feed_id)
                    .join(DigestRunRow, DigestRunRow.id == DigestClaimRow.run_id)
                    .where(DigestClaimRow.digest == digest)
                    .where(DigestClaimRow.suppressed | DigestRunRow.status.in_(("sent",)))
                ).all()
        finally:
            engine.dispose()
        return {match_key(name, url, text) for name, url, text in rows}

    def pending_deliveries(self) -> int:
        engine = self.database.engine()
        try:
            with engine.connect() as db:
                count = db.scalar(
                    select(func.count())
                    .select_from(DeliveryRow)
                    .where(DeliveryRow.status != "sent")
                )
        finally:
            engine.dispose()
        return int(count or 0)

    def expected_keys(self, batch: Batch) -> set[str]:
        room = self.newsroom
        keys = {room.story_url(s.slug) for s in batch.feed if s.matching}
        keys |= {room.article_url(s.slug) for s in batch.page if s.matching}
        if batch.number > 0:  # the first version of the watched page is its baseline
            keys.add(notice_key(batch.notice))
        return keys

    def publish(self, number: int) -> Batch:
        batch = Batch.make(number)
        self.batches[number] = batch
        self.newsroom.publish(batch.feed, batch.page, batch.notice)
        return batch


def notice_key(notice: str) -> str:
    return f"+ {notice}"


def match_key(source: str, url: str | None, text: str) -> str:
    """How a match is recognised in an email: its item's link, or for a watched page's
    change, the added line of the diff (every change has the page's own URL)."""
    if source == "notices":
        return notice_key(text.strip().splitlines()[-1])
    return url or ""


def in_message(key: str, text: str) -> bool:
    if key.startswith("+ "):
        return key in text
    return f" {key} " in f" {text} "


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # a look at the store during a database fault may fail
            pass
        time.sleep(interval)
    return False


def write_config(path: Path, database_url: str, newsroom: Newsroom, smtp_port: int) -> None:
    base = newsroom.base_url
    path.write_text(
        f"""\
database: "{database_url}"
outbox: {path.parent}/outbox
smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: watcher@example.org,
        timeout: {SMTP_TIMEOUT:.0f}s}}
daemon: {{dispatch_interval: 1s, shutdown_wait: {SHUTDOWN_WAIT:.0f}s}}
defaults: {{interval: {POLL_INTERVAL:.0f}s, timeout: {FETCH_TIMEOUT:.0f}s, per_host_delay: 0.01s,
            per_host_concurrency: 4,
            workers: 4}}
feeds:
  - {{name: wire, url: "{base}/feed.xml", allow_private: true}}
pages:
  - {{name: section, url: "{base}/section", link_selector: "ul.stories a",
      allow_private: true}}
watches:
  - {{name: notices, title: Harbour notices, url: "{base}/notices", allow_private: true}}
topics:
  - {{name: premier, query: "premier"}}
digests:
  - {{name: alerts, recipients: [desk@example.org], topics: [premier], watches: [notices],
      immediate: true}}
  - {{name: minutely, recipients: [desk@example.org], topics: [premier],
      watches: [notices], schedule: "* * * * *"}}
""",
        encoding="utf-8",
    )


# -- the end-of-run checks -------------------------------------------------------------


def served_and_stored(timeline: Timeline) -> tuple[Counter[str], set[str]]:
    """How often each served item was stored, and the served ones (by identifier)."""
    room = timeline.newsroom
    served = {room.story_url(slug) for slug in room.served_feed}
    served |= {room.article_url(slug) for slug in room.served_articles}
    # Each served version of the watched page after the first is one change.
    served |= {
        notice_key(room.notices[version - 1]) for version in room.served_notices if version > 1
    }
    engine = timeline.database.engine()
    try:
        with engine.connect() as db:
            rows = db.execute(
                select(FeedRow.name, ItemRow.url, ItemRow.content_text).join(
                    FeedRow, FeedRow.id == ItemRow.feed_id
                )
            ).all()
    finally:
        engine.dispose()
    return Counter(match_key(name, url, text) for name, url, text in rows), served


def check_end_state(timeline: Timeline, smtp: FaultySmtp) -> None:
    stored, served = served_and_stored(timeline)
    for key in sorted(served):
        if stored[key] != 1:
            timeline.problems.append(f"[{timeline.store}] served item {key} stored {stored[key]}x")
    matched = timeline.stored_match_keys()
    published = set().union(*(timeline.expected_keys(b) for b in timeline.batches.values()))
    if published - matched:
        timeline.problems.append(
            f"[{timeline.store}] published matches never stored: {sorted(published - matched)}"
        )
    per_digest: dict[str, Counter[str]] = {}
    for digest in DIGESTS:
        counts: Counter[str] = Counter()
        messages = smtp.messages(digest)
        ids = Counter(str(m.message["Message-ID"]) for m in messages)
        for message_id, n in ids.items():
            if n > 1:
                timeline.problems.append(
                    f"[{timeline.store}] {digest}: message {message_id} arrived {n}x"
                )
        for message in messages:
            counts.update(key for key in matched if in_message(key, message.text))
        per_digest[digest] = counts
        for key in sorted(matched):
            if counts[key] != 1:
                timeline.problems.append(
                    f"[{timeline.store}] {digest}: match {key} in {counts[key]} messages"
                )
    # Per row: what its batch lost or doubled, over items and both digests.
    for row in timeline.rows:
        number = timeline.batch_of_row.get(row.fault)
        if number is None:
            continue
        keys = timeline.expected_keys(timeline.batches[number])
        lost = sum(1 for key in keys if key not in matched)
        lost += sum(1 for d in DIGESTS for key in keys if per_digest[d][key] == 0)
        row.lost = lost
        row.doubled = sum(max(0, per_digest[d][key] - 1) for d in DIGESTS for key in keys)


def write_matrix(timeline: Timeline, tmp: Path) -> str:
    header = "| fault | store | lost | doubled | s to deliver | s to stop | note |\n"
    header += "|---|---|---|---|---|---|---|\n"
    lines = "".join(
        f"| {r.fault} | {r.store} | {_cell(r.lost)} | {_cell(r.doubled)} | "
        f"{_cell(r.seconds_to_deliver)} | {_cell(r.seconds_to_stop)} | {r.note.strip('; ')} |\n"
        for r in timeline.rows
    )
    table = header + lines
    (tmp / "fault-matrix.md").write_text(table, encoding="utf-8")
    rows = [asdict(r) for r in timeline.rows]
    (tmp / "fault-matrix.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    target = os.environ.get("WATCHER_FAULT_MATRIX")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(lines)
    return table


def _cell(value: object) -> str:
    return "—" if value is None else str(value)
