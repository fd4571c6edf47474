"""The stores of the fault suite (tests/test_faults.py), each with a way to make its
writes fail, and the daemon as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parents[1]


# -- the database, and its write fault ----------------------------------------------


class SqliteDatabase:
    """A SQLite file; its write fault makes the database and its WAL immutable.

    The daemon runs as root here, for whom permissions do not stop a write, but the
    immutable attribute does: every write fails ("disk I/O error") while reads go on
    (the -shm file, which SQLite maps into memory, is left alone: making it
    immutable kills the process with SIGBUS). Where chattr is not allowed (no
    CAP_LINUX_IMMUTABLE), the fault holds SQLite's write lock instead, and the
    daemon's writes wait on their busy timeout; ``method`` says which one ran.
    """

    kind = "sqlite"

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "watcher.db"
        self.url = f"sqlite:///{self.path}"
        self.method = ""

    def engine(self) -> Engine:
        return create_engine(self.url, poolclass=NullPool)

    @contextmanager
    def writes_failing(self) -> Iterator[None]:
        files = [str(self.path), str(self.path) + "-wal"]
        made = subprocess.run(["chattr", "+i", *files], capture_output=True, text=True)
        if made.returncode == 0:
            self.method = "chattr +i on the database and its WAL (writes fail: disk I/O error)"
            try:
                yield
            finally:
                subprocess.run(["chattr", "-i", *files], check=True, capture_output=True)
            return
        import sqlite3

        self.method = f"write lock held (chattr refused: {made.stderr.strip()}): writes wait"
        holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    def drop(self) -> None:
        pass


class PostgresDatabase:
    """A database of its own on the shared server (which other tests use: never restarted).

    Its write fault stands in for a server restart: every connection to the database
    is cut and, until the fault clears, every new session is read-only, so each
    write fails. When it clears, the sessions opened meanwhile are cut too, as a
    restart would have refused them.
    """

    kind = "postgres"

    def __init__(self, base_url: str) -> None:
        import psycopg

        base = make_url(base_url)
        self.name = f"watcher_faults_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
        self.admin = psycopg.connect(admin, autocommit=True)
        self.admin.execute(f'CREATE DATABASE "{self.name}"')
        self.method = "connections cut + default_transaction_read_only (a restart's stand-in)"

    def engine(self) -> Engine:
        return create_engine(self.url, poolclass=NullPool)

    def _cut_connections(self) -> None:
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.name,),
        )

    @contextmanager
    def writes_failing(self) -> Iterator[None]:
        self.admin.execute(f'ALTER DATABASE "{self.name}" SET default_transaction_read_only = on')
        self._cut_connections()
        try:
            yield
        finally:
            self.admin.execute(f'ALTER DATABASE "{self.name}" RESET default_transaction_read_only')
            self._cut_connections()

    def drop(self) -> None:
        self._cut_connections()
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


Database = SqliteDatabase | PostgresDatabase


# -- the daemon ----------------------------------------------------------------------


class DaemonProcess:
    """`watcher run` as a subprocess, its output in a log file of its own."""

    def __init__(self, config: Path, tmp: Path, label: str) -> None:
        self.log_path = tmp / f"daemon-{label}.log"
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in wait()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            cwd=tmp,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def terminate(self) -> tuple[int | None, float]:
        """SIGTERM; (exit code or None if it had to be killed after 60 s, seconds to exit)."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
            self.process.kill()
            self.process.wait()
        took = time.monotonic() - sent
        self._log.close()
        return code, took
