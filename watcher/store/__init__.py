"""The database, behind one package: tables, migrations and the repository.

Only this package talks SQL. ORM rows never leave it: callers get the frozen
values of ``watcher.models`` and the small results of ``values``. Every error of
the database driver is wrapped in ``StoreError`` at this boundary.

    tables   the SQLAlchemy models (and aware UTC datetimes on every backend)
    values   what the store hands out: SourceUpdate, MatchedItem, DigestRun, …
    base     opening, sessions (SQLite: WAL, foreign keys, fair writers), migrations
    sources  SourceStore: sources (feeds, pages, watches), poll state, leases, health notices
    items    ItemStore: ingesting polls, reading items, stories, retention
    digests  DigestStore: claims, runs and their deliveries
    labels   LabelStore: readers' judgements (relevant or not) per item and topic
    activity ActivityStore: recent matches and the digest runs that took them (dashboard)
    records  row <-> value conversions and SQL the parts share

SQLite (the default) runs in WAL mode with foreign keys on and a busy timeout;
PostgreSQL is reached through psycopg 3. Datetimes are stored as naive UTC and
handed out timezone-aware.
"""

from __future__ import annotations

from watcher.store.activity import ActivityStore
from watcher.store.base import StoreBase, sqlite_path
from watcher.store.digests import DigestStore
from watcher.store.items import ItemStore
from watcher.store.labels import LabelStore
from watcher.store.sources import SourceStore
from watcher.store.tables import (
    Base,
    DeliveryRow,
    DigestClaimRow,
    DigestRunRow,
    FeedNoticeRow,
    FeedRow,
    ItemRow,
    LabelRow,
    MatchRow,
    UTCDateTime,
)
from watcher.store.values import (
    Delivery,
    DigestRun,
    IngestCounts,
    ItemClaim,
    Label,
    MatchedItem,
    SourceStatus,
    SourceUpdate,
)


class Store(SourceStore, ItemStore, DigestStore, LabelStore, ActivityStore, StoreBase):
    """The repository: every read and write of watcher's state goes through here."""


__all__ = [
    "Base",
    "Delivery",
    "DeliveryRow",
    "DigestClaimRow",
    "DigestRun",
    "DigestRunRow",
    "FeedNoticeRow",
    "FeedRow",
    "IngestCounts",
    "ItemClaim",
    "ItemRow",
    "Label",
    "LabelRow",
    "MatchRow",
    "MatchedItem",
    "SourceStatus",
    "SourceUpdate",
    "Store",
    "UTCDateTime",
    "sqlite_path",
]
