"""Who may do what when many processes share one PostgreSQL database: one scheduler
in charge, and at most one poll of a feed at a time.

Both rest on PostgreSQL advisory locks, which belong to a database session: the
server drops them when the session ends, however it ends (a clean exit, SIGKILL,
a machine that vanished, once TCP keepalive notices). That is why this module
holds connections of its own instead of going through ``watcher.store``, whose
pooled sessions come and go. Lock keys are hashed from a name and the current
schema, so two watchers in different schemas of one database never meet.

``SchedulerLeadership``: the scheduler (``watcher run`` with ``executor: celery``)
holds a session-level lock on a dedicated connection for its whole life. A
standby tries every ``STANDBY_RETRY_SECONDS`` and takes over when the holder's
session ends. If the leader's connection breaks it must assume the lock is gone
and stop (``held()`` turns False); until it notices, two schedulers may dispatch
for a moment, which the store tolerates: claims use leases and SKIP LOCKED, and
a digest run claims its matches in one transaction, so nothing is polled twice
at once or mailed twice.

``FeedPollLock``: a worker polls a feed only inside a transaction holding the
feed's transaction-level lock, and only while the feed is still claimed
(``lease_until`` set). Together: two polls of one feed never overlap, whatever
the lease timing, redelivery or clock skew; a task whose feed was polled since
its claim (a redelivered or duplicate message) does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from watcher.exceptions import StoreError

log = logging.getLogger(__name__)

# How often a standby scheduler asks for the lock: the longest a dead leader's
# work waits once the server has dropped its session.
STANDBY_RETRY_SECONDS = 2.0

# Lock names: the scheduler's, and a feed's prefix (followed by the feed's name).
_SCHEDULER_KEY = "watcher:scheduler"
_FEED_KEY = "watcher:feed:"

# libpq client keepalives: the leader notices a dead server or network in ~30 s.
_CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


# A bigint lock key from the bound :name and the schema (tests and tenants apart).
# A collision of two 64-bit hashes could only make a poll wait for the next claim.
_KEY_SQL = "hashtextextended(:name || '@' || current_schema(), 0)"


class SchedulerLeadership:
    """The scheduler's lock on a connection of its own (never pooled, never shared)."""

    def __init__(self, database_url: str) -> None:
        self._engine = create_engine(
            database_url, poolclass=NullPool, connect_args=dict(_CLIENT_KEEPALIVES)
        )
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        """Take the lock if no other session holds it; True when this process leads."""
        with self._lock:
            if self._connection is None:
                try:
                    connection = self._engine.connect()
                    # Server-side keepalives: a leader whose machine vanished (no FIN)
                    # loses its session, and so the lock, in ~30 s instead of hours.
                    connection.exec_driver_sql("SET tcp_keepalives_idle = 10")
                    connection.exec_driver_sql("SET tcp_keepalives_interval = 5")
                    connection.exec_driver_sql("SET tcp_keepalives_count = 3")
                    connection.commit()
                except SQLAlchemyError as exc:
                    log.warning("scheduler election: database unreachable: %s", exc)
                    return False
                self._connection = connection
            try:
                got = bool(
                    self._connection.execute(
                        text(f"SELECT pg_try_advisory_lock({_KEY_SQL})"),
                        {"name": _SCHEDULER_KEY},
                    ).scalar_one()
                )
                # Autobegin opened a transaction; end it so the session sits idle
                # (the session-level lock survives the commit).
                self._connection.commit()
            except SQLAlchemyError as exc:
                log.warning("scheduler election failed: %s", exc)
                self._drop_connection()
                return False
            return got

    def wait(self, stopping: threading.Event, retry_seconds: float = STANDBY_RETRY_SECONDS) -> bool:
        """Stand by until this process leads (True) or ``stopping`` is set (False)."""
        announced = False
        while not stopping.is_set():
            if self.try_acquire():
                log.info("scheduler: this process leads")
                return True
            if not announced:
                log.info(
                    "scheduler: another scheduler leads; standing by (retry every %.0fs)",
                    retry_seconds,
                )
                announced = True
            stopping.wait(retry_seconds)
        return False

    def held(self) -> bool:
        """Whether the lock's session is still alive (so the lock is still ours)."""
        with self._lock:
            if self._connection is None:
                return False
            try:
                self._connection.exec_driver_sql("SELECT 1")
                self._connection.commit()
            except SQLAlchemyError:
                self._drop_connection()
                return False
            return True

    def release(self) -> None:
        """Give the lock up by closing its session (a standby takes over at once)."""
        with self._lock:
            self._drop_connection()
        self._engine.dispose()

    def _drop_connection(self) -> None:
        if self._connection is not None:
            # A broken session is gone either way, and so is its lock.
            with contextlib.suppress(SQLAlchemyError):
                self._connection.close()
            self._connection = None


class FeedPollLock:
    """Mutual exclusion per feed across every worker."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def for_polls(cls, database_url: str, polls: int) -> FeedPollLock:
        """A lock on an engine of its own, with a connection for each of ``polls``
        polls running at once: each poll holds its lock's connection throughout, and
        takes store connections beside it, so sharing the store's pool with as many
        polls as it has connections would leave them all waiting for one more."""
        engine = create_engine(
            database_url,
            pool_size=polls,
            max_overflow=0,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10},
        )
        return cls(engine)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def claimed(self, feed: str) -> Iterator[bool]:
        """Yield True while this process may poll ``feed``, False when it must not.

        True means: this transaction holds the feed's lock (no other poll of it is
        running anywhere) and the feed is still claimed, i.e. no poll has recorded
        a result since the claim (``record_poll`` clears the lease in the same
        transaction as the items). The lock lasts until the block ends, or until
        this process's session ends. Raises StoreError when the database fails.
        """
        try:
            with self._engine.connect() as connection, connection.begin():
                locked = bool(
                    connection.execute(
                        text(f"SELECT pg_try_advisory_xact_lock({_KEY_SQL})"),
                        {"name": _FEED_KEY + feed},
                    ).scalar_one()
                )
                # Read after taking the lock: a poll that held it before us has
                # committed (or died), so its cleared lease is visible here.
                claimed = locked and bool(
                    connection.execute(
                        # Should become a Store method (e.g. Store.is_claimed); it reads
                        # the one column the store's public values do not carry.
                        text("SELECT lease_until IS NOT NULL FROM feeds WHERE name = :name"),
                        {"name": feed},
                    ).scalar()
                )
                yield claimed
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {str(exc).splitlines()[0]}") from exc
