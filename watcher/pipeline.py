"""The assembled watcher for one configuration: store, fetcher, matcher, senders.

The CLI, the daemon and Celery workers build one ``Pipeline`` from a validated
``Config``: it polls sources (``watcher.poll.poll_source``, concurrently), and
holds the parts that send: ``digests`` (``watcher.outputs.send``),
``operators`` (``watcher.outputs.operators``) and the story assigner they share.
Every part holds no state the store does not, so the same work can run in any
process that builds its own Pipeline from the same config.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from watcher.clock import Clock, utc_now
from watcher.config import Config, Source
from watcher.models import SourceState
from watcher.outputs.deliver import Transport, make_transport
from watcher.outputs.operators import OperatorMail
from watcher.outputs.send import DigestSender
from watcher.poll import PollContext, PollResult, poll_source
from watcher.poll.common import NotModifiedWrites
from watcher.poll.cpu import (
    PROCESS_POOL_MIN_SOURCES,
    AdaptiveCpuStages,
    CpuStages,
    ProcessCpuStages,
    TopicsOnDemand,
    worker_processes,
)
from watcher.sources.articles import ArticleFetcher
from watcher.sources.fetch import Fetcher, FetchRequest
from watcher.sources.robots import RobotsCache
from watcher.store import Store
from watcher.stories import StoryAssigner
from watcher.urls import host_of

log = logging.getLogger(__name__)


class Pipeline:
    """Everything one process needs to poll feeds and send digests for a config."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        transport: Transport | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.rng = rng or random.Random()
        defaults = config.defaults
        self.fetcher = Fetcher.from_defaults(defaults)
        self.matcher = TopicsOnDemand(config.topics, config.lists)
        self.transport = transport or make_transport(config.smtp, Path(config.outbox))
        self.stories = StoryAssigner(store)
        self.digests = DigestSender(
            config, store, self.transport, self.stories, clock=clock, rng=self.rng
        )
        self.operators = OperatorMail(config, store, self.transport, clock=clock)
        # Links found in pages are untrusted; private addresses only on the hosts the
        # operator put behind allow_private (a listing page's own site).
        private_hosts = {host_of(s.url) for s in config.sources if s.allow_private}
        robots = (
            RobotsCache(
                lambda url: self.fetcher.fetch(
                    FetchRequest(url=url, allow_private=host_of(url) in private_hosts)
                ),
                user_agent=defaults.user_agent,
                clock=clock,
            )
            if defaults.robots
            else None
        )
        self.articles = ArticleFetcher(self.fetcher, robots, private_hosts)
        # Worker processes for parsing and matching, started for a poll of many
        # sources (see use_processes_for); None: everything in this process.
        self.cpu: ProcessCpuStages | None = None
        self._cpu_lock = threading.Lock()

    def close(self) -> None:
        self.fetcher.close()
        if self.cpu is not None:
            self.cpu.close()

    def use_processes_for(self, source_count: int) -> bool:
        """Start worker processes for parsing and matching when ``source_count`` sources
        are polled at once, more than one process is allowed, and there are enough
        sources to be worth it; whether polls now use them.

        For the daemon, which keeps them for its lifetime; a single ``poll`` of many
        sources starts them only when its work calls for it (``AdaptiveCpuStages``)."""
        if not self._processes_pay_for(source_count):
            return self.cpu is not None
        self._start_processes()
        return True

    def _processes_pay_for(self, source_count: int) -> bool:
        processes = worker_processes(self.config.defaults.processes)
        return processes > 1 and source_count >= PROCESS_POOL_MIN_SOURCES

    def _start_processes(self) -> ProcessCpuStages:
        with self._cpu_lock:
            if self.cpu is None:
                self.cpu = ProcessCpuStages(
                    self.config.topics,
                    self.config.lists,
                    worker_processes(self.config.defaults.processes),
                )
            return self.cpu

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- polling -------------------------------------------------------------------

    def poll_one(
        self,
        source: Source,
        cpu: CpuStages | None = None,
        state: SourceState | None = None,
        not_modified: NotModifiedWrites | None = None,
    ) -> PollResult:
        """Poll one feed, listing page or watched page, whatever process this is.

        ``cpu``: where to parse and match (default: the worker processes when they
        run, else here); ``state``: the source's stored state when the caller read
        it already; ``not_modified``: where a 304 is written (default: at once).
        Never raises for the source's sake (see watcher.poll.poll_source)."""
        ctx = PollContext(
            store=self.store,
            fetcher=self.fetcher,
            matcher=self.matcher,
            defaults=self.config.defaults,
            now=self.clock(),
            rng=self.rng,
            articles=self.articles,
            cpu=cpu or self.cpu,
            known_state=state,
            not_modified=not_modified,
        )
        return poll_source(source, ctx)

    def poll(
        self,
        sources: Sequence[Source],
        on_result: Callable[[PollResult], None] | None = None,
    ) -> list[PollResult]:
        """Poll ``sources`` concurrently (``defaults.workers`` threads); one result each."""
        results: list[PollResult] = []
        if not sources:
            return results
        # Every state in a few statements, not one read per source: a source that
        # answers 304 then costs one statement, its update (issue #18).
        states = self.store.source_states([source.name for source in sources])
        adaptive = None
        if self.cpu is None and self._processes_pay_for(len(sources)):
            # A source that never gave a whole body (a first poll) will be parsed: with
            # enough of them the workers pay for themselves from the start. Otherwise
            # most sources will answer 304 and the poll measures what it parses.
            unseen = sum(
                1
                for source in sources
                if (state := states.get(source.name)) is None or state.body_hash is None
            )
            if self._processes_pay_for(unseen):
                self._start_processes()
            else:
                adaptive = AdaptiveCpuStages(self.matcher, len(sources), self._start_processes)
        workers = min(self.config.defaults.workers, len(sources))
        not_modified = NotModifiedWrites(self.store)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll")
        try:
            futures = {
                pool.submit(
                    self.poll_one, source, adaptive, states.get(source.name), not_modified
                ): source
                for source in sources
            }
            for future in as_completed(futures):
                result = future.result()
                if adaptive is not None:
                    adaptive.source_done()
                results.append(result)
                if on_result is not None:
                    on_result(result)
        except BaseException:
            # Ctrl-C: polls not yet started are dropped; running ones end by their deadline.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        not_modified.flush()
        return results

    def enabled_sources(self, names: Iterable[str] | None = None) -> list[Source]:
        """The enabled feeds, pages and watches (only those named, when names are given)."""
        wanted = None if names is None else set(names)
        return [
            source
            for source in self.config.sources
            if source.enabled and (wanted is None or source.name in wanted)
        ]
