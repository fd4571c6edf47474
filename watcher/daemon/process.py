"""One daemon process: the single-daemon lock, signals, the scheduler election, then
``Daemon.run`` (``watcher run``).

SIGTERM/SIGINT stop it cleanly; SIGHUP asks it to reload feeds.yaml. With
``executor: celery`` the process first wins the scheduler election
(``watcher.daemon.leadership``) and stops when it loses it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import IO, TYPE_CHECKING

from watcher.config import Config
from watcher.daemon.executors import PollExecutor
from watcher.daemon.scheduler import Daemon
from watcher.exceptions import DaemonLockError, StoreError, WatcherError
from watcher.store import Store, sqlite_path

if TYPE_CHECKING:
    from watcher.daemon.leadership import SchedulerLeadership

log = logging.getLogger(__name__)

# How often the elected scheduler checks that its election lock's session lives.
LEADERSHIP_CHECK_SECONDS = 2.0


def acquire_daemon_lock(database_url: str) -> IO[str] | None:
    """Hold an exclusive lock beside a SQLite database for the daemon's lifetime.

    Two daemons writing one SQLite file would poll every feed twice; the lock
    refuses the second with a clear message. (PostgreSQL deployments coordinate
    in the database instead.) Returns the open lock file, or None for non-SQLite.
    """
    path = sqlite_path(database_url)
    if path is None:
        return None
    lock_path = path.with_name(path.name + ".lock")
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise DaemonLockError(
            f"{path}: another watcher daemon (pid {holder}) is already running on this database"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def run_daemon(
    config: Config, store: Store, *, reload_config: Callable[[], Config] | None = None
) -> None:
    """Run the daemon in the foreground with signal handling; raises DaemonLockError.

    With ``executor: celery`` this process is the scheduler: it first wins the
    election (``watcher.daemon.leadership``; a standby waits here until the leader's
    session ends), then claims due feeds and hands them to Celery workers. Only
    the scheduler sends digests and runs the work that must happen in one place.
    Raises WatcherError when it loses the election lock, so that its supervisor
    restarts it as a standby.
    """
    lock = acquire_daemon_lock(config.database)
    stopping = threading.Event()
    daemon: Daemon | None = None

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stopping.set()
        if daemon is not None:
            daemon.request_stop()

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        if reload_config is not None and daemon is not None:
            daemon.reload_requested.set()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    leadership: SchedulerLeadership | None = None
    lost = threading.Event()
    try:
        executor: PollExecutor | None = None
        if config.executor == "celery":
            from watcher.daemon.celery_app import CeleryPollExecutor
            from watcher.daemon.leadership import SchedulerLeadership

            leadership = SchedulerLeadership(config.database)
            if not leadership.wait(stopping):
                return
            executor = CeleryPollExecutor(config)
        daemon = Daemon(config, store, reload_config=reload_config, executor=executor)
        if lock is not None or leadership is not None:
            # The only sender now: what a killed predecessor was sending goes out at
            # once, not when its delivery lease (three SMTP timeouts) runs out.
            released = store.release_delivery_leases(daemon.clock())
            if released:
                log.info("%d deliveries waiting from before the start are due now", released)
        if lock is not None:
            # The only poller of this SQLite file: what a killed predecessor had
            # claimed is polled in this first round.
            reclaimed = store.release_source_leases()
            if reclaimed:
                log.info("%d sources claimed before the start are due now", reclaimed)
        if stopping.is_set():  # a signal between the election and the line above
            daemon.request_stop()
        if leadership is not None:
            threading.Thread(
                target=_watch_leadership,
                args=(leadership, daemon, lost),
                name="leadership",
                daemon=True,
            ).start()
        if config.http is not None:
            token = config.http.token.get_secret_value() if config.http.token else None
            daemon.start_endpoint(config.http.host, config.http.port, token)
        try:
            daemon.run()
        except StoreError:
            daemon.request_stop()
            daemon.shutdown()
            raise
        if lost.is_set():
            raise WatcherError("lost the scheduler election lock (database connection broken)")
    finally:
        if leadership is not None:
            leadership.release()
        if lock is not None:
            lock.close()


def _watch_leadership(
    leadership: SchedulerLeadership, daemon: Daemon, lost: threading.Event
) -> None:
    """Stop the daemon when its election lock's session ends: a standby may lead now."""
    while not daemon.stopping.wait(LEADERSHIP_CHECK_SECONDS):
        if not leadership.held():
            log.error("scheduler: lost the election lock; stopping")
            lost.set()
            daemon.request_stop()
            return
