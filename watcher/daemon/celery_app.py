"""Polls on Celery workers, on as many machines as share the database and the broker.

Two roles, both built from the same validated ``Config`` (``executor: celery``):

- The scheduler (``watcher run``): one process, elected by ``watcher.daemon.leadership``.
  Its ``CeleryPollExecutor`` receives the feeds ``Daemon.dispatch`` claimed with a
  lease and sends one ``watcher.poll`` task per feed to the ``watcher.poll`` queue.
  It keeps at most ``QUEUED_PER_WORKER_SETTING × defaults.workers`` tasks waiting
  in the broker, so a backlog never outgrows the leases. It also sends every
  digest, and whatever else must run in one place at a time (story assignment
  across feeds, when it comes) belongs there too, not in a task.
- The workers (``watcher worker``): Celery prefork processes. Each process builds
  one ``Pipeline`` on its first task (after the fork: engines and HTTP pools do not
  survive one) and runs ``Pipeline.poll_one`` — the code the local executor runs.

Delivery and failure, precisely:

- Tasks are acknowledged late and rejected (so requeued) when their worker process
  dies: a poll cut short by a crash is redelivered. A worker machine that dies
  whole leaves its tasks unacknowledged; the broker redelivers them after its
  visibility timeout, and long before that the feeds' leases expire and the
  scheduler claims them again. Either way a poll is done at least once.
- No feed is polled twice at once: a task polls only while holding the feed's
  lock and only while the feed is still claimed (``FeedPollLock.claimed``); a
  duplicate, a redelivery of a finished poll, or a task whose lease was taken
  over while the first poll still runs, does nothing. Items and matches are
  inserted with ON CONFLICT DO NOTHING, so a repeated poll never stores twice.
- A task that keeps killing its worker process (a parser crash on one feed) is
  redelivered each time; the lease bounds nothing there. Watch the worker logs.
- Politeness: the store caps concurrent leases per host (``per_host_concurrency``)
  across all workers; the minimum delay between requests to one host
  (``per_host_delay``) is kept per worker process, not across them.
- Workers read the configuration once at start: restart them (or send the worker
  SIGHUP) after changing feeds.yaml; a task for a feed a worker does not know is
  skipped with a warning, and its lease expires.

Celery is imported only here and only when used: the package works without the
``celery`` extra. Celery ships no type hints; the untyped parts stay behind the
small typed classes below.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watcher.config import Config, Source
from watcher.daemon.leadership import FeedPollLock
from watcher.exceptions import CeleryMissingError, WatcherError
from watcher.pipeline import Pipeline
from watcher.store import Store

if TYPE_CHECKING:
    from kombu.entity import Queue

log = logging.getLogger(__name__)

QUEUE = "watcher.poll"
POLL_TASK = "watcher.poll"
# Tasks waiting in the broker per unit of ``defaults.workers``: enough to keep every
# worker busy between two dispatches, few enough to start well within a lease.
QUEUED_PER_WORKER_SETTING = 4


def _poll_queue() -> Queue:
    from kombu.entity import Exchange, Queue  # installed with celery

    # The same exchange and routing key Celery gives a default queue, declared
    # once here so the scheduler's depth check and the workers agree. (kombu's
    # constructors carry no annotations, hence the ignores.)
    exchange = Exchange(QUEUE)  # type: ignore[no-untyped-call]
    return Queue(QUEUE, exchange, routing_key=QUEUE)  # type: ignore[no-untyped-call]


def make_celery(config: Config) -> Any:
    """A Celery app for ``config``'s broker with the poll task registered.

    Returns the untyped ``celery.Celery`` (used only by the classes in this module).
    Raises CeleryMissingError when celery is not installed.
    """
    try:
        from celery import Celery  # untyped: every use stays in this module
    except ImportError as exc:
        raise CeleryMissingError(
            "executor 'celery' needs the celery extra: pip install 'watcher[celery]'"
        ) from exc
    app = Celery("watcher", set_as_current=False)
    app.conf.update(
        broker_url=config.broker,
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,
        task_queues=(_poll_queue(),),
        # Acknowledge after the poll, and requeue when the worker process dies
        # mid-poll: a crash costs a redelivery, not a lost poll.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Each process reserves one task beyond the one it runs, so work spreads
        # over the workers and a dying worker strands little.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        # watcher's own logging stays as configured (format, level, JSON lines).
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    app.task(
        name=POLL_TASK,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )(poll_task)
    return app


class CeleryPollExecutor:
    """The scheduler's side: a ``PollExecutor`` that sends one task per claimed feed."""

    def __init__(self, config: Config, *, max_queued: int | None = None) -> None:
        self._app = make_celery(config)
        self.max_queued = max_queued or config.defaults.workers * QUEUED_PER_WORKER_SETTING
        self._waiting = 0

    def queue_depth(self) -> int:
        """Tasks sent and not yet taken by a worker (a broker round trip)."""
        with self._app.connection_for_write() as connection:
            bound = _poll_queue().bind(connection.default_channel)  # type: ignore[no-untyped-call]
            declared = bound.queue_declare()
        return int(declared.message_count)

    def capacity(self) -> int:
        """How many more tasks fit under ``max_queued``; 0 when the broker fails
        (nothing is claimed that could not be sent)."""
        try:
            self._waiting = self.queue_depth()
        except Exception as exc:  # kombu raises each transport's own errors
            log.warning("broker unreachable, not dispatching: %s", exc)
            return 0
        return max(0, self.max_queued - self._waiting)

    def submit(self, feed: Source) -> None:
        self._app.send_task(POLL_TASK, args=[feed.name], queue=QUEUE)
        self._waiting += 1

    def running(self) -> int:
        """Tasks waiting in the broker as of the last look; the polls running on
        workers are theirs to report."""
        return self._waiting

    def shutdown(self, wait_seconds: float) -> list[str]:
        """Sent tasks stay in the broker and keep their leases: workers still run them."""
        del wait_seconds  # nothing runs here
        self._app.close()
        return []


@dataclass
class _WorkerProcess:
    """What one worker process keeps between tasks."""

    config: Config | None = None
    pipeline: Pipeline | None = None
    feed_lock: FeedPollLock | None = None
    pid: int = 0
    guard: threading.Lock = field(default_factory=threading.Lock)

    def ready(self) -> tuple[Config, Pipeline, FeedPollLock]:
        """This process's config, Pipeline and feed lock, built on first use."""
        with self.guard:
            if self.config is None:
                raise WatcherError("the poll task runs only under `watcher worker`")
            if self.pipeline is None or self.feed_lock is None or self.pid != os.getpid():
                # A Pipeline inherited through fork would share its parent's sockets.
                store = Store.open(self.config.database)
                self.pipeline = Pipeline(self.config, store)
                self.feed_lock = FeedPollLock(store.engine)
                self.pid = os.getpid()
            return self.config, self.pipeline, self.feed_lock

    def close(self) -> None:
        with self.guard:
            if self.pipeline is not None and self.pid == os.getpid():
                self.pipeline.close()
                self.pipeline.store.close()
            self.pipeline = None
            self.feed_lock = None


_worker = _WorkerProcess()


def poll_task(feed_name: str) -> str:
    """The ``watcher.poll`` task: poll one claimed feed; returns the poll's result kind,
    ``skipped`` when another poll holds or already did it, ``unknown`` for a feed
    this worker's configuration lacks."""
    config, pipeline, feed_lock = _worker.ready()
    try:
        feed = config.source_named(feed_name)  # a feed, a listing page or a watched page
    except KeyError:
        log.warning("feed %s: not in this worker's configuration; restart the worker", feed_name)
        return "unknown"
    with feed_lock.claimed(feed_name) as claimed:
        if not claimed:
            log.debug("feed %s: polled or being polled elsewhere; skipping", feed_name)
            return "skipped"
        result = pipeline.poll_one(feed)
    log.log(logging.WARNING if result.failed else logging.DEBUG, "%s", result.describe())
    return str(result.result)


def run_worker(config: Config, *, concurrency: int, loglevel: str) -> int:
    """Run a Celery worker for poll tasks in the foreground; its exit status.

    Blocks until the worker stops (SIGTERM: finish running tasks, then exit).
    """
    from celery.signals import worker_process_shutdown

    _worker.config = config
    app = make_celery(config)
    worker_process_shutdown.connect(_on_process_shutdown, weak=False)
    worker = app.Worker(
        hostname=f"watcher-{os.getpid()}@{socket.gethostname()}",
        concurrency=concurrency,
        loglevel=loglevel.upper(),
        queues=[QUEUE],
        pool_cls="prefork",
        # No gossip, mingle or event heartbeats: workers share nothing but the queue.
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        quiet=True,
    )
    worker.start()
    return int(worker.exitcode or 0)


def _on_process_shutdown(**_kwargs: object) -> None:
    _worker.close()
