"""Polls on Celery workers, on as many machines as share the database and the broker.

Two roles, both built from the same validated ``Config`` (``executor: celery``):

- The scheduler (``watcher run``): one process, elected by ``watcher.daemon.leadership``.
  Its ``CeleryPollExecutor`` receives the feeds ``Daemon.dispatch`` claimed with a
  lease and sends one ``watcher.poll`` task per feed to the ``watcher.poll`` queue.
  It keeps at most ``QUEUED_PER_WORKER_SETTING × defaults.workers`` tasks waiting
  in the broker, so a backlog never outgrows the leases. It also sends every
  digest, and whatever else must run in one place at a time (story assignment
  across feeds, when it comes) belongs there too, not in a task.
- The workers (``watcher worker``): one process each, running ``concurrency`` polls
  at once on Celery's thread pool, like the local executor's threads: a poll mostly
  waits on the network and the database, and one poll at a time per process left
  its core idle for those waits (issue #18: a ``--concurrency 1`` prefork worker
  did 0.64 of the local executor). The process builds one ``Pipeline`` before it
  takes a task and every poll runs ``Pipeline.poll_one`` on it — the code the local
  executor runs, with the same worker processes for parsing and matching
  (``defaults.processes``) to use more cores than one.

Delivery and failure, precisely:

- Tasks are acknowledged late, after the poll. A worker that dies mid-poll (killed,
  out of memory, its machine gone) leaves its tasks unacknowledged; the broker
  redelivers them after its visibility timeout, and long before that the feeds'
  leases expire and the scheduler claims them again. Either way a poll is done at
  least once. Nothing inside a dead worker starts it again: its supervisor
  (systemd, compose's restart policy) does.
- No feed is polled twice at once: a task polls only while holding the feed's
  lock and only while the feed is still claimed (``FeedPollLock.claimed``); a
  duplicate, a redelivery of a finished poll, or a task whose lease was taken
  over while the first poll still runs, does nothing. Items and matches are
  inserted with ON CONFLICT DO NOTHING, so a repeated poll never stores twice.
- Politeness: the store caps concurrent leases per host (``per_host_concurrency``)
  across all workers; the minimum delay between requests to one host
  (``per_host_delay``) is kept per worker process (over all its polls), not across
  worker processes.
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
from dataclasses import dataclass
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
# How soon the scheduler looks again when its last dispatch filled the queue or left
# due feeds waiting for their hosts' slots. Workers report nothing back; waiting the
# whole dispatch_interval (5 s) capped a scaled-out poll at max_queued per 5 s, 12.8
# feeds/s at the default workers: 16, however many workers took them (issue #18),
# and a host's feeds at per_host_concurrency per 5 s.
BACKLOG_RECHECK_SECONDS = 0.5


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
        # Acknowledge after the poll: a worker that dies mid-poll leaves the task
        # unacknowledged, so a crash costs a redelivery, not a lost poll.
        task_acks_late=True,
        # A worker reserves no task beyond those its threads run (with late acks
        # the running ones fill the prefetch count): work spreads over the workers
        # and a dying worker strands only what it was polling.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        # watcher's own logging stays as configured (format, level, JSON lines).
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    app.task(
        name=POLL_TASK,
        acks_late=True,
        ignore_result=True,
    )(poll_task)
    return app


class CeleryPollExecutor:
    """The scheduler's side: a ``PollExecutor`` that sends one task per claimed feed."""

    def __init__(self, config: Config, *, max_queued: int | None = None) -> None:
        self._app = make_celery(config)
        self.max_queued = max_queued or config.defaults.workers * QUEUED_PER_WORKER_SETTING
        self._waiting = 0
        self._broker_failed = False

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
            self._broker_failed = True
            return 0
        self._broker_failed = False
        return max(0, self.max_queued - self._waiting)

    def dispatch_again_within(self, interval: float, due_left: int) -> float:
        """Soon while due feeds wait: the queue is full, or their hosts' slots are taken
        (workers tell the scheduler nothing when a poll ends, so it looks again); else
        ``interval``; also ``interval`` while the broker is unreachable."""
        if self._broker_failed or (self._waiting < self.max_queued and not due_left):
            return interval
        return min(interval, BACKLOG_RECHECK_SECONDS)

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


@dataclass(frozen=True)
class _WorkerParts:
    """What the poll tasks of one worker process share: built once, before the first task."""

    config: Config
    pipeline: Pipeline
    feed_lock: FeedPollLock


_parts: _WorkerParts | None = None


def poll_task(feed_name: str) -> str:
    """The ``watcher.poll`` task: poll one claimed feed; returns the poll's result kind,
    ``skipped`` when another poll holds or already did it, ``unknown`` for a feed
    this worker's configuration lacks."""
    parts = _parts
    if parts is None:
        raise WatcherError("the poll task runs only under `watcher worker`")
    config, pipeline, feed_lock = parts.config, parts.pipeline, parts.feed_lock
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
    """Run a Celery worker polling ``concurrency`` feeds at once, in the foreground;
    its exit status.

    Blocks until the worker stops (SIGTERM: finish running polls, then exit).
    Raises StoreError when the database cannot be opened.
    """
    global _parts
    app = make_celery(config)
    store = Store.open(config.database)
    pipeline = Pipeline(config, store)
    # Parsing and matching on worker processes, as `watcher run` does for as many
    # sources; started before Celery's threads, from this thread.
    pipeline.use_processes_for(len(pipeline.enabled_sources()))
    feed_lock = FeedPollLock.for_polls(config.database, concurrency)
    _parts = _WorkerParts(config, pipeline, feed_lock)
    try:
        worker = app.Worker(
            hostname=f"watcher-{os.getpid()}@{socket.gethostname()}",
            concurrency=concurrency,
            loglevel=loglevel.upper(),
            queues=[QUEUE],
            pool_cls="threads",
            # No gossip, mingle or event heartbeats: workers share nothing but the queue.
            without_gossip=True,
            without_mingle=True,
            without_heartbeat=True,
            quiet=True,
        )
        worker.start()
        return int(worker.exitcode or 0)
    finally:
        _parts = None
        feed_lock.close()
        pipeline.close()
        store.close()
