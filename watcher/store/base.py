"""Opening the database, its sessions, and its migrations."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import (
    Column,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from watcher.exceptions import SchemaError, StoreError
from watcher.store import records
from watcher.store.tables import Base

# The newest migration in watcher/migrations/versions (a test holds them equal): the
# schema check compares the stored revision with it without loading alembic.
HEAD_REVISION = "0009"
_STORED_REVISIONS = text("SELECT version_num FROM alembic_version")
# Held by the transaction that creates a new PostgreSQL database's schema; the key
# is arbitrary and watcher's own ("watcher" in ASCII).
_SCHEMA_LOCK = text("SELECT pg_advisory_xact_lock(33602674740454770)")
# Alembic's own table, as Alembic creates it: a database created from the models is
# stamped at HEAD_REVISION in it, so that later migrations start from there.
_VERSION_TABLE = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module, whose implicit BEGINs
    # break SAVEPOINTs and atomic multi-statement writes; _sqlite_on_begin opens them.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the daemon's readers and its one writer work at once; foreign keys are
    # off by default in SQLite; the busy timeout turns brief lock waits into waits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
    # writes can fail at once with SQLITE_BUSY, which busy_timeout does not retry.
    # Read-only sessions need no write lock and, in WAL mode, never wait for one.
    read_only = connection.get_execution_options().get("watcher_read_only", False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _at_head(connection: Connection) -> bool:
    """Whether ``connection``'s database records HEAD_REVISION, and only it."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    return list(connection.execute(_STORED_REVISIONS).scalars()) == [HEAD_REVISION]


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and :memory:."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


class StoreBase:
    """Opening, sessions and migrations; the parts of Store build on these."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Sessions that only read open a deferred transaction (see _sqlite_on_begin).
        self._read_engine = engine.execution_options(watcher_read_only=True)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, database_url: str) -> Self:
        """Open (and for SQLite create the folder of) the database; check it answers.

        Raises StoreError with one line naming the database when it cannot be reached.
        """
        try:
            url = make_url(database_url)
        except ArgumentError as exc:
            raise StoreError(f"database: {database_url!r} is not a database URL") from exc
        path = sqlite_path(database_url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise StoreError(f"{path.parent}: cannot create database folder: {exc}") from exc
            if path.exists() and not os.access(path, os.W_OK):
                raise StoreError(f"{path}: database file is not writable")
            if not os.access(path.parent, os.W_OK):
                raise StoreError(f"{path.parent}: database folder is not writable")
        engine_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql":
            engine_args["pool_pre_ping"] = True
            engine_args["connect_args"] = {"connect_timeout": 10}
        try:
            engine = create_engine(url, **engine_args)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"database: cannot use {url.render_as_string()}: {exc}") from exc
        if url.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        store = cls(engine)
        try:
            with engine.connect():
                pass
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(
                f"database {url.render_as_string()}: cannot connect: {records.first_line(exc)}"
            ) from exc
        if path is not None:
            # The database holds what feeds served and who receives digests: owner only.
            os.chmod(path, 0o600)
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _session(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose transaction commits on success; driver errors become StoreError.

        On SQLite, writers of this process take turns on a lock of our own before
        asking SQLite for its write lock: SQLite's busy handler sleeps and retries
        unfairly, so with many poll threads one writer could wait past the busy
        timeout and fail a whole poll. Readers never wait for writers (WAL).
        """
        session = (self._sessions if write else self._read_sessions)()
        serialize = write and self._is_sqlite
        if serialize:
            self._write_lock.acquire()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {records.first_line(exc)}") from exc
        finally:
            session.close()
            if serialize:
                self._write_lock.release()

    @contextmanager
    def _connection(self, *, write: bool = True) -> Iterator[Connection]:
        """A Core connection in a transaction, for the hot paths of every poll (a feed's
        state read and written) where an ORM session's bookkeeping is most of the cost.
        Same locking and error mapping as ``_session``."""
        serialize = write and self._is_sqlite
        if serialize:
            self._write_lock.acquire()
        try:
            with (self.engine if write else self._read_engine).begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {records.first_line(exc)}") from exc
        finally:
            if serialize:
                self._write_lock.release()

    def ping(self) -> None:
        """Raise StoreError unless the database answers a trivial query."""
        with self._session(write=False) as session:
            session.execute(select(1))

    def upgrade(self) -> None:
        """Bring the database to this version's schema (idempotent).

        Only a database at an older revision runs the migrations. One already at
        HEAD_REVISION is left alone (`poll --once` upgrades on every start), and an
        empty one is created from the models and stamped at HEAD_REVISION, as
        Alembic's cookbook does: neither imports alembic, which with mako costs
        0.1-0.3 s and stays resident, ~14 MB, for the life of the process that
        created its database (a daemon's first start). tests/test_store.py holds
        the created schema equal to the migrated one, on SQLite and PostgreSQL.
        """
        if self.is_current() or self._created_or_current():
            return
        from watcher import migrations

        try:
            migrations.upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"database migration failed: {records.first_line(exc)}") from exc

    def _created_or_current(self) -> bool:
        """Create this version's schema in a database that holds no table; whether the
        database is now at HEAD_REVISION (created here, or by another process meanwhile).

        In one write transaction that processes take in turn (SQLite's write lock,
        a PostgreSQL advisory lock), so that several starting on a new database
        together create it once: the others find it created."""
        with self._connection() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(_SCHEMA_LOCK)
            if inspect(connection).get_table_names():
                return _at_head(connection)
            Base.metadata.create_all(connection)
            _VERSION_TABLE.create(connection)
            connection.execute(insert(_VERSION_TABLE).values(version_num=HEAD_REVISION))
        return True

    def is_current(self) -> bool:
        """Whether the database is at this version's schema (HEAD_REVISION).

        Reads alembic_version with SQLAlchemy: importing alembic costs 0.1-0.3 s of
        every command's start-up.
        """
        with self._connection(write=False) as connection:
            return _at_head(connection)

    def check_schema(self) -> None:
        """Raise SchemaError unless the database is at this version's schema."""
        if not self.is_current():
            raise SchemaError("the database schema is not up to date; run `watcher db upgrade`")
