"""The daemon's jobs: APScheduler wiring, the dispatcher and delivery threads, reload.
APScheduler is imported only here and in ``watcher.daemon.cron``.

Jobs:
- the dispatcher (a thread of its own, not an APScheduler job): sources (feeds,
  pages, watches) due in the database go to the worker pool, never two polls of
  one source at once; it runs every ``dispatch_interval`` and as soon as a poll
  finishes, so a host's ``per_host_concurrency`` slots are refilled at once and
  500 sources on one site are polled as fast as ``per_host_delay`` allows.
- one cron job per scheduled digest, in the digest's timezone, coalesced, with
  a misfire grace time; at start a digest whose last scheduled time passed
  while the daemon was down (within the grace time) is sent once.
- ``retention`` hourly: drops old unmatched items, and matched ones later.

Sending never happens on those jobs. One delivery thread does all of it, one
thing after another: the digests the cron jobs ask for, operator notices, and
each round (at start, when a poll stored new matches, and every
``dispatch_interval`` whatever the polls did) the immediate alerts not yet sent
and every delivery due a retry. A hung mail server holds that thread for at
most its timeout and never holds polling.

A stop (SIGTERM/SIGINT, see ``watcher.daemon.process``) ends new work and waits
up to ``shutdown_wait`` for in-flight polls and sends (a send cut off is due
again, with its Message-ID); a reload (SIGHUP) re-reads the configuration and
keeps the old one if the new is invalid.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from watcher.clock import utc_now
from watcher.config import Config, Source
from watcher.daemon.cron import MISFIRE_GRACE, digest_trigger, missed_fire_time
from watcher.daemon.endpoint import EndpointServer, Health
from watcher.daemon.executors import LocalPollExecutor, PollExecutor
from watcher.daemon.liveness import liveness_problems
from watcher.daemon.metrics import Metrics
from watcher.exceptions import ConfigError, StoreError, WatcherError
from watcher.logs import RepeatedFailureLog
from watcher.outputs.send import DigestOutcome
from watcher.pipeline import Pipeline
from watcher.poll import PollResult
from watcher.store import Store

if TYPE_CHECKING:
    from watcher.outputs.publish import FeedCache

log = logging.getLogger(__name__)

MIN_POLL_LEASE = timedelta(seconds=10)
DISPATCH_COALESCE_SECONDS = 0.05


def poll_lease(config: Config) -> timedelta:
    """How long a claimed feed stays claimed: longer than any one poll can take
    (a fetch is cut off at ``defaults.timeout``), short enough that a dead
    worker's feeds come round again soon."""
    # Four fetch deadlines leave room for parsing and storing; the floor covers a
    # poll whose fetch was quick but whose feed is large. (Celery workers never
    # overlap polls of one feed even past the lease: see watcher.daemon.leadership.)
    return max(config.defaults.timeout * 4, MIN_POLL_LEASE)


# Work for the delivery thread: ("digest", NAME), ("notices", ""), ("summary", "").
DeliveryRequest = tuple[str, str]


class Daemon:
    """One running watcher: a scheduler, a worker pool and the current pipeline."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        reload_config: Callable[[], Config] | None = None,
        clock: Callable[[], datetime] = utc_now,
        executor: PollExecutor | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.reload_config = reload_config
        self.pipeline = Pipeline(config, store, clock=clock)
        self.executor: PollExecutor = executor or LocalPollExecutor(
            config.defaults.workers, self._poll, self._poll_done
        )
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.metrics = Metrics()
        # All sending happens on one thread (see the module docstring): work for it
        # is queued here, and ``delivery_wanted`` wakes it early.
        self.deliveries: queue.SimpleQueue[DeliveryRequest] = queue.SimpleQueue()
        self.delivery_wanted = threading.Event()
        self._delivery_thread: threading.Thread | None = None
        # Set when a poll finishes: its host has a free slot, so dispatch again now.
        self.dispatch_wanted = threading.Event()
        self._dispatch_thread: threading.Thread | None = None
        self._dispatch_failures = RepeatedFailureLog(log, "dispatch")
        # Scheduled digests whose claim failed; retried every delivery round.
        self.owed_digests: set[str] = set()
        self._delivery_failures = RepeatedFailureLog(log, "delivery round")
        self.endpoint: EndpointServer | None = None
        # The Atom documents the endpoint serves, kept per pipeline (a reload starts afresh).
        self._feed_cache: FeedCache | None = None
        # Monotonic time of the last dispatch; /healthz fails when it falls behind.
        self.last_dispatch = time.monotonic()
        self._due_left = 0  # due sources the last dispatch could not hand out
        self.summary = _Summary()

    @property
    def config(self) -> Config:
        return self.pipeline.config

    # -- jobs ------------------------------------------------------------------------

    def dispatch(self) -> None:
        """Hand due sources to the pool."""
        if self.stopping.is_set():
            return
        now = self.clock()
        self.last_dispatch = time.monotonic()
        sources = {source.name: source for source in self.pipeline.enabled_sources()}
        defaults = self.config.defaults
        claimed = self.store.claim_due_sources(
            now,
            lease=poll_lease(self.config),
            limit=self.executor.capacity(),
            per_host=defaults.per_host_concurrency,
        )
        for name in claimed:
            source = sources.get(name)
            if source is None:  # removed from the config since the last sync
                self.store.release_lease(name)
                continue
            self.executor.submit(source)
        self._due_left = self.store.count_due_sources(now)
        self.metrics.feeds_due.set(self._due_left)
        self.metrics.in_flight.set(self.executor.running())
        self.summary.maybe_log(self.metrics)

    def dispatch_loop(self) -> None:
        """The dispatcher thread: dispatch at once, then whenever a poll finishes, every
        ``dispatch_interval``, or sooner when the executor asks, until the daemon stops."""
        interval = self.config.daemon.dispatch_interval.total_seconds()
        while not self.stopping.is_set():
            self.dispatch_wanted.clear()
            try:
                self.dispatch()
                self._dispatch_failures.succeeded()
            except Exception as exc:  # the database; /healthz reports a lagging dispatcher
                self._dispatch_failures.failed(exc)
                self.stopping.wait(interval)
            if self.dispatch_wanted.wait(
                self.executor.dispatch_again_within(interval, self._due_left)
            ):
                # Polls finish in bursts: gather a burst's freed slots into one claim.
                self.stopping.wait(DISPATCH_COALESCE_SECONDS)

    # -- delivery ------------------------------------------------------------------

    def request_delivery(self, request: DeliveryRequest) -> None:
        """Queue work for the delivery thread and wake it."""
        self.deliveries.put(request)
        self.delivery_wanted.set()

    def delivery_loop(self) -> None:
        """The delivery thread: a round at once, then one whenever woken or every
        ``dispatch_interval``, until the daemon stops."""
        while not self.stopping.is_set():
            self.delivery_wanted.clear()
            self.delivery_round()
            self.delivery_wanted.wait(self.config.daemon.dispatch_interval.total_seconds())

    def delivery_round(self) -> None:
        """Send what was asked for, then every immediate alert and due retry."""
        while not self.stopping.is_set():
            try:
                request = self.deliveries.get_nowait()
            except queue.Empty:
                break
            self._deliver_request(request)
        for name in sorted(self.owed_digests):
            if not self.stopping.is_set():
                self.send_scheduled_digest(name)
        if self.stopping.is_set():
            return
        try:
            self._count_digests(self.pipeline.digests.deliver_pending())
            self._delivery_failures.succeeded()
        except Exception as exc:  # deliver_pending isolates digests; this is the database
            self._delivery_failures.failed(exc)

    def _deliver_request(self, request: DeliveryRequest) -> None:
        kind, name = request
        try:
            if kind == "digest":
                self.send_scheduled_digest(name)
            elif kind == "notices":
                self.health_notices()
            elif kind == "summary":
                self.health_summary()
        except Exception:
            log.exception("%s %s failed; trying again when next due", kind, name)

    @property
    def executor_is_remote(self) -> bool:
        return not isinstance(self.executor, LocalPollExecutor)

    def _poll(self, feed: Source) -> PollResult:
        started = time.monotonic()
        result = self.pipeline.poll_one(feed)
        self.metrics.record_poll(result, time.monotonic() - started)
        return result

    def _count_digests(self, outcomes: list[DigestOutcome]) -> None:
        for outcome in outcomes:
            self.metrics.digests.labels(outcome.digest, outcome.status).inc()

    def _poll_done(self, result: PollResult) -> None:
        log.log(logging.WARNING if result.failed else logging.DEBUG, "%s", result.describe())
        self.dispatch_wanted.set()
        if result.new_matches and any(d.immediate for d in self.config.digests):
            self.delivery_wanted.set()

    def send_scheduled_digest(self, name: str) -> None:
        """Claim and send digest ``name`` now (on the delivery thread)."""
        try:
            digest = self.config.digest(name)
        except KeyError:
            return
        try:
            outcomes = self.pipeline.digests.send_digest(digest)
        except WatcherError as exc:
            # The claim failed (the database): the digest is owed, and every delivery
            # round tries it again until it is claimed, not only at its next schedule.
            if name not in self.owed_digests:
                log.error("digest %s could not be claimed, trying each round: %s", name, exc)
            self.owed_digests.add(name)
            return
        self.owed_digests.discard(name)
        self._count_digests(outcomes)
        for outcome in outcomes:
            log.info("digest %s: %s (%d items)", name, outcome.status, outcome.items)

    def health_notices(self) -> None:
        try:
            sent = self.pipeline.operators.send_health_notices()
        except WatcherError:
            log.exception("feed-health notices could not be sent; trying again later")
            return
        if sent:
            log.info("sent %d feed-health notices to the operators", sent)

    def health_summary(self) -> None:
        try:
            self.pipeline.operators.send_health_summary()
        except WatcherError:
            log.exception("the weekly source summary could not be sent")

    def retention(self) -> None:
        now = self.clock()
        retention = self.config.retention
        removed = self.store.delete_items_before(now - retention.unmatched, now - retention.matched)
        if removed:
            log.info("retention: removed %d old items", removed)

    # -- scheduling --------------------------------------------------------------------

    def _schedule_digests(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:"):
                job.remove()
        for digest in self.config.digests:
            if digest.schedule is None:
                continue
            self.scheduler.add_job(
                self.request_delivery,
                digest_trigger(digest),
                args=[("digest", digest.name)],
                id=f"digest:{digest.name}",
                coalesce=True,
                misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
                max_instances=1,
            )

    def catch_up_digests(self) -> None:
        """Send once each digest whose scheduled time passed while we were down."""
        now = self.clock()
        last_runs = self.store.last_digest_runs()
        for digest in self.config.digests:
            missed = missed_fire_time(digest, last_runs.get(digest.name), now, MISFIRE_GRACE)
            if missed is not None and digest.name in last_runs:
                log.info(
                    "digest %s was due at %s while stopped; sending it now",
                    digest.name,
                    missed.isoformat(timespec="minutes"),
                )
                self.request_delivery(("digest", digest.name))

    def apply_reload(self) -> None:
        """Swap in a re-read configuration; keep the old one if the new is invalid."""
        assert self.reload_config is not None
        try:
            config = self.reload_config()
            pipeline = Pipeline(config, self.store, clock=self.clock)
        except (ConfigError, WatcherError) as exc:
            # One line, so that a log reader sees the whole reason with its timestamp.
            reason = "; ".join(str(exc).splitlines())
            log.error("reload rejected, keeping the running configuration: %s", reason)
            return
        self.store.sync_sources(config.sources, self.clock())
        if not self.executor_is_remote:
            pipeline.use_processes_for(len(pipeline.enabled_sources()))
        old, self.pipeline = self.pipeline, pipeline
        self._schedule_digests()
        # In-flight polls hold the old pipeline; its HTTP pool closes when they finish.
        threading.Thread(target=self._close_when_idle, args=(old,), daemon=True).start()
        log.info(
            "configuration reloaded: %d sources, %d topics, %d digests",
            len(config.sources),
            len(config.topics),
            len(config.digests),
        )

    def _close_when_idle(self, old: Pipeline) -> None:
        if isinstance(self.executor, LocalPollExecutor):
            self.executor.wait_idle(timeout=self.config.daemon.shutdown_wait.total_seconds() * 4)
        old.close()

    def health(self) -> Health:
        """Healthy when the dispatcher ran recently, the database answers, no delivery
        is late and no source is overdue (see watcher.daemon.liveness)."""
        checks: dict[str, str] = {}
        behind = time.monotonic() - self.last_dispatch
        stuck = behind > self.config.daemon.dispatch_interval.total_seconds() * 3 + 10
        checks["scheduler"] = f"stuck: no dispatch for {behind:.0f}s" if stuck else "ok"
        checks["delivery"] = checks["sources"] = "ok"
        try:
            self.store.ping()
            checks["database"] = "ok"
            for problem in liveness_problems(self.config, self.store, self.clock()):
                checks[problem.check] = problem.message
        except StoreError as exc:
            checks["database"] = str(exc)
        return Health(all(value == "ok" for value in checks.values()), checks)

    def feed_document(self, kind: str, name: str, self_url: str) -> bytes:
        """The Atom feed of a topic or digest (KeyError when there is none)."""
        from watcher.outputs.publish import FeedCache

        cache = self._feed_cache
        if cache is None or cache.pipeline is not self.pipeline:
            cache = self._feed_cache = FeedCache(self.pipeline)
        return cache.document(kind, name, self_url)

    def start_endpoint(self, host: str, port: int, token: str | None = None) -> EndpointServer:
        from watcher.dashboard.app import Dashboard

        public_url = self.config.http.public_url if self.config.http else None
        dashboard = Dashboard(
            lambda: self.config,
            self.store,
            token=token,
            public_url=public_url,
            clock=self.clock,
            assign_stories=lambda: self.pipeline.stories.assign_pending(self.clock()),
            pending_entries=lambda digest: self.pipeline.digests.next_digest_view(digest).total,
        )
        self.endpoint = EndpointServer(
            host,
            port,
            health=self.health,
            metrics=self.metrics.exposition,
            feeds=self.feed_document,
            token=token,
            dashboard=dashboard,
        )
        self.endpoint.start()
        log.info("endpoint listening on %s (dashboard at /, /healthz, /metrics)", self.endpoint.url)
        return self.endpoint

    def run(self) -> None:
        """Run until SIGTERM/SIGINT; returns after a clean shutdown."""
        self.store.sync_sources(self.config.sources, self.clock())
        if not self.executor_is_remote:
            self.pipeline.use_processes_for(len(self.pipeline.enabled_sources()))
        self.scheduler.add_job(
            self.request_delivery,
            "interval",
            minutes=15,
            args=[("notices", "")],
            id="health",
            coalesce=True,
            max_instances=1,
        )
        if self.config.health.weekly_summary:
            self.scheduler.add_job(
                self.request_delivery,
                CronTrigger(day_of_week="mon", hour=8, timezone=UTC),
                args=[("summary", "")],
                id="health-summary",
                coalesce=True,
                misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
            )
        self.scheduler.add_job(
            self.retention, "interval", hours=1, id="retention", coalesce=True, max_instances=1
        )
        self._schedule_digests()
        self.catch_up_digests()
        self.scheduler.start()
        self._dispatch_thread = threading.Thread(
            target=self.dispatch_loop, name="dispatch", daemon=True
        )
        self._dispatch_thread.start()
        # A daemon thread: a send hung past shutdown_wait must not keep the process.
        self._delivery_thread = threading.Thread(
            target=self.delivery_loop, name="delivery", daemon=True
        )
        self._delivery_thread.start()
        log.info(
            "watcher running: %d sources, %d topics, %d digests",
            len(self.config.sources),
            len(self.config.topics),
            len(self.config.digests),
        )
        while not self.stopping.wait(0.5):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.apply_reload()
        self.shutdown()

    def request_stop(self) -> None:
        self.stopping.set()
        self.delivery_wanted.set()
        self.dispatch_wanted.set()

    def shutdown(self) -> None:
        """Stop within ``shutdown_wait``: polls and a send in flight get that long, together.

        A poll cut off keeps its lease until it expires; a send cut off is due again
        after its delivery lease, and goes out with the same Message-ID."""
        wait = self.config.daemon.shutdown_wait.total_seconds()
        deadline = time.monotonic() + wait
        log.info("stopping: waiting up to %ds for in-flight polls and sends", wait)
        self.request_stop()
        # The jobs on the scheduler only queue work or delete old items: quick.
        self.scheduler.shutdown(wait=True)
        if self._dispatch_thread is not None:
            self._dispatch_thread.join(max(0.0, deadline - time.monotonic()))
        for name in self.executor.shutdown(max(0.0, deadline - time.monotonic())):
            self.store.release_lease(name)
        if self._delivery_thread is not None:
            self._delivery_thread.join(max(0.0, deadline - time.monotonic()))
            if self._delivery_thread.is_alive():
                log.warning("stopping with a send still in progress; it is retried next start")
        if self.endpoint is not None:
            self.endpoint.stop()
        if self._delivery_thread is None or not self._delivery_thread.is_alive():
            self.pipeline.close()
        log.info("stopped")


class _Summary:
    """An info line per minute: what the daemon did since the last one."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self.last = time.monotonic()
        self.seen: dict[str, float] = {}

    def maybe_log(self, metrics: Metrics) -> None:
        if time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        totals: dict[str, float] = {}
        for family in metrics.registry.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = sample.name.removeprefix("watcher_").removesuffix("_total")
                    totals[key] = totals.get(key, 0.0) + sample.value
        delta = {k: v - self.seen.get(k, 0.0) for k, v in totals.items()}
        self.seen = totals
        log.info(
            "last minute: %d polls, %d items, %d matches, %d digests",
            delta.get("polls", 0),
            delta.get("items", 0),
            delta.get("matches", 0),
            delta.get("digests", 0),
        )
