"""The assembled watcher for one configuration: store, fetcher, matcher, transport.

The CLI and the daemon build one ``Pipeline`` from a validated ``Config`` and
call its two verbs: poll feeds, and send digests. The stage functions it calls
(``poll_feed``, ``build_digest_view`` …) hold no state, so the same work can run
in any process that builds its own Pipeline from the same config.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from watcher.articles import ArticleFetcher
from watcher.channels import make_channel, render_short_message
from watcher.cluster import ClusterSettings, Fingerprint, StoryIndex, fingerprint
from watcher.config import (
    WATCH_TOPIC_PREFIX,
    Config,
    DigestConfig,
    PageConfig,
    Source,
    TopicConfig,
    WatchConfig,
)
from watcher.deliver import Transport, make_transport, retry_delay
from watcher.digest import (
    DigestView,
    SourceLink,
    build_digest_view,
    build_message,
    make_message_id,
    render_digest,
)
from watcher.exceptions import DeliveryError, TemporaryDeliveryError, WatcherError
from watcher.fetch import Fetcher, FetchRequest
from watcher.health import decide_notices, record_notices, render_notice_email, weekly_summary
from watcher.match import TopicIndex
from watcher.models import StoredItem
from watcher.pagepoll import poll_page, poll_watch
from watcher.poll import PollContext, PollResult, poll_feed
from watcher.robots import RobotsCache
from watcher.sanitize import clean_header_text
from watcher.store import DigestRun, Store
from watcher.urls import host_of

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    """What sending one digest run did: sent, retry later, or failed for good."""

    digest: str
    run_id: int
    status: str  # sent | retry | failed
    items: int
    message_id: str
    error: str | None = None


class StoryAssigner:
    """Puts stored items into stories, one at a time, in the process that sends digests.

    Sequential by design (see watcher.cluster): whichever process claims digests
    (the daemon, or `watcher digest send`) assigns first, so every claimed item
    has its story. The index is rebuilt from the store on first use.
    """

    def __init__(self, store: Store, settings: ClusterSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ClusterSettings()
        self.index = StoryIndex(self.settings)
        self._loaded = False
        self._lock = threading.Lock()

    def assign_pending(self, now: datetime) -> int:
        """Assign every item without a story; how many were assigned."""
        with self._lock:
            if not self._loaded:
                for member in self.store.story_members_since(now - self.settings.window):
                    fp = Fingerprint.from_json(member.fingerprint)
                    self.index.add(member.id, member.story_id, fp, member.published)
                self._loaded = True
            self.index.evict(now - self.settings.window)
            assigned = 0
            while batch := self.store.items_without_story(limit=500):
                placed = []
                for candidate in batch:
                    fp = fingerprint(candidate.title, candidate.text)
                    story_id, _ = self.index.place(candidate.id, fp, candidate.published)
                    placed.append((candidate.id, story_id, fp.to_json()))
                self.store.set_stories(placed)
                assigned += len(placed)
            return assigned


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
        self.matcher = TopicIndex.build(config.topics, config.lists)
        self.transport = transport or make_transport(config.smtp, Path(config.outbox))
        self.stories = StoryAssigner(store)
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

    def close(self) -> None:
        self.fetcher.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- polling -------------------------------------------------------------------

    def poll_one(self, source: Source) -> PollResult:
        """Poll one feed, listing page or watched page, whatever process this is."""
        ctx = PollContext(
            store=self.store,
            fetcher=self.fetcher,
            matcher=self.matcher,
            defaults=self.config.defaults,
            now=self.clock(),
            rng=self.rng,
            articles=self.articles,
        )
        if isinstance(source, PageConfig):
            return poll_page(source, ctx)
        if isinstance(source, WatchConfig):
            return poll_watch(source, ctx)
        return poll_feed(source, ctx)

    def poll(
        self,
        sources: Sequence[Source],
        on_result: Callable[[PollResult], None] | None = None,
    ) -> list[PollResult]:
        """Poll ``sources`` concurrently (``defaults.workers`` threads); one result each."""
        results: list[PollResult] = []
        if not sources:
            return results
        workers = min(self.config.defaults.workers, len(sources))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
            futures = {pool.submit(self.poll_one, source): source for source in sources}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except WatcherError as exc:
                    # One source's database trouble must not cost the others their poll.
                    source = futures[future]
                    log.error("%s: poll not recorded: %s", source.name, exc)
                    result = PollResult(source.name, "failed", error_kind="store", error=str(exc))
                results.append(result)
                if on_result is not None:
                    on_result(result)
        return results

    def enabled_sources(self, names: Iterable[str] | None = None) -> list[Source]:
        """The enabled feeds, pages and watches (only those named, when names are given)."""
        wanted = None if names is None else set(names)
        return [
            source
            for source in self.config.sources
            if source.enabled and (wanted is None or source.name in wanted)
        ]

    # -- digests -------------------------------------------------------------------

    def send_digest(self, digest: DigestConfig) -> list[DigestOutcome]:
        """Claim what is new for ``digest`` and send it, plus any of its runs due a retry.

        The claim is one transaction (see Store.claim_digest) that also records one
        delivery per target: the email (when the digest has recipients) and each
        channel. A delivery is marked sent only after its target accepted it, and
        retried on its own, so a failing channel neither blocks nor repeats the
        others. A crash in between re-sends with the same Message-ID.
        """
        now = self.clock()
        self.stories.assign_pending(now)
        self.store.claim_digest(self.with_watches(digest), now, delivery_targets(digest))
        return [
            self.send_run(digest, run) for run in self.store.pending_digest_runs(now, digest.name)
        ]

    def send_run(self, digest: DigestConfig, run: DigestRun) -> DigestOutcome:
        """Attempt every delivery of ``run`` that is due; what happened, overall."""
        message_id = run.message_id or make_message_id(
            run.id, digest.name, _mail_domain(self.config)
        )
        if run.message_id is None:
            self.store.set_message_id(run.id, message_id)
        # Rendered as of the claim, so a re-send is the same digest.
        view = self.digest_view(digest, run.items, now=run.created_at)
        channels = {channel_target(url): url for url in digest.channels}
        errors: list[str] = []
        statuses: list[str] = []
        lease = delivery_lease(self.config)
        for delivery in run.due(self.clock()):
            if not self.store.begin_delivery(
                run.id, delivery.target, now=self.clock(), lease=lease
            ):
                continue  # another sender has it
            try:
                if delivery.target == EMAIL_TARGET:
                    self.transport.send(self._email(digest, run, view, message_id))
                elif delivery.target in channels:
                    channel = make_channel(channels[delivery.target])
                    channel.send(render_short_message(view, idempotency_key=message_id))
                else:
                    raise DeliveryError(f"{delivery.target} is no longer configured")
            except TemporaryDeliveryError as exc:
                retry_at = self.clock() + retry_delay(delivery.attempts + 1, rng=self.rng)
                self.store.mark_delivery(
                    run.id, delivery.target, now=self.clock(), error=str(exc), retry_at=retry_at
                )
                log.warning(
                    "digest %s run %d to %s not delivered, retrying at %s: %s",
                    digest.name,
                    run.id,
                    delivery.target,
                    retry_at.isoformat(timespec="seconds"),
                    exc,
                )
                statuses.append("retry")
                errors.append(str(exc))
            except DeliveryError as exc:
                self.store.mark_delivery(run.id, delivery.target, now=self.clock(), error=str(exc))
                log.error(
                    "digest %s run %d to %s failed for good: %s",
                    digest.name,
                    run.id,
                    delivery.target,
                    exc,
                )
                statuses.append("failed")
                errors.append(str(exc))
            else:
                self.store.mark_delivery(run.id, delivery.target, now=self.clock())
                log.info(
                    "digest %s run %d sent to %s: %d items, %s",
                    digest.name,
                    run.id,
                    delivery.target,
                    view.total,
                    message_id,
                )
                statuses.append("sent")
        status = "failed" if "failed" in statuses else "retry" if "retry" in statuses else "sent"
        return DigestOutcome(
            digest.name, run.id, status, view.total, message_id, "; ".join(errors) or None
        )

    def _email(
        self, digest: DigestConfig, run: DigestRun, view: DigestView, message_id: str
    ) -> EmailMessage:
        templates = Path(self.config.templates) if self.config.templates else None
        rendered = render_digest(view, templates_dir=templates)
        sender = self.config.smtp.sender if self.config.smtp else "watcher@localhost"
        return build_message(
            rendered,
            sender=sender,
            recipients=digest.recipients,
            message_id=message_id,
            date=run.created_at,
        )

    def with_watches(self, digest: DigestConfig) -> DigestConfig:
        """``digest`` with its watches' pseudo-topics among its topics, for claims and views."""
        if not digest.watches:
            return digest
        watch_topics = tuple(WATCH_TOPIC_PREFIX + name for name in digest.watches)
        return digest.model_copy(update={"topics": digest.topics + watch_topics})

    def digest_view(
        self, digest: DigestConfig, items: Sequence[StoredItem], *, now: datetime
    ) -> DigestView:
        """The digest of ``items``, one entry per story, the story's other sources linked."""
        digest = self.with_watches(digest)
        by_story: dict[int, list[StoredItem]] = {}
        for stored in items:
            by_story.setdefault(stored.story_id or -stored.id, []).append(stored)
        wanted = set(digest.topics)

        def strength(stored: StoredItem) -> tuple[float, float]:
            best = max((m.score for m in stored.matches if m.topic in wanted), default=0.0)
            return best, -stored.id

        leaders = [max(group, key=strength) for group in by_story.values()]
        members = self.store.story_sources([s.story_id for s in leaders if s.story_id])
        also: dict[int, list[SourceLink]] = {}
        for leader in leaders:
            for other in members.get(leader.story_id or 0, []):
                if other.id != leader.id:
                    also.setdefault(leader.id, []).append(
                        SourceLink(
                            feed_title=other.feed_title, url=other.item.url, title=other.item.title
                        )
                    )
        topics = {topic.name: topic for topic in self.config.topics}
        for watch in self.config.watches:
            # A section title for the watch's changes; never compiled, so not validated.
            topics[watch.topic] = TopicConfig.model_construct(
                name=watch.topic, title=f"Changes on {watch.title or watch.name}", query=""
            )
        return build_digest_view(digest, topics, leaders, now=now, also_reported_by=also)

    def send_health_notices(self) -> int:
        """Tell the operators, once, about sources that broke, moved, or recovered.

        The decisions are watcher.health's; the states are saved only after the
        transport took the email, so a failed send is tried again next time.
        Returns how many notices were sent.
        """
        if not self.config.operators:
            return 0
        now = self.clock()
        states = self.store.notice_states()
        notices = decide_notices(
            self.store.feed_health(),
            states,
            now=now,
            failing_after=self.config.health.failing_after,
        )
        if not notices:
            return 0
        subject, text, html = render_notice_email(notices, now=now)
        self._send_operator_email(subject, text, html, now)
        self.store.save_notice_states(record_notices(states, notices, now=now))
        return len(notices)

    def send_health_summary(self) -> bool:
        """Mail the operators the sources that have been quiet too long, if any."""
        if not self.config.operators:
            return False
        now = self.clock()
        text = weekly_summary(
            self.store.feed_health(), now=now, quiet_after=self.config.health.quiet_after
        )
        if text is None:
            return False
        self._send_operator_email("watcher: quiet sources this week", text, None, now)
        return True

    def _send_operator_email(
        self, subject: str, text: str, html: str | None, now: datetime
    ) -> None:
        message = EmailMessage()
        message["Subject"] = clean_header_text(subject, 200)
        message["From"] = self.config.smtp.sender if self.config.smtp else "watcher@localhost"
        message["To"] = ", ".join(self.config.operators)
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain=_mail_domain(self.config))
        message["Auto-Submitted"] = "auto-generated"
        message["X-Watcher-Digest"] = "operators"
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        self.transport.send(message)

    def send_immediate_alerts(self) -> list[DigestOutcome]:
        """Send every ``immediate: true`` digest that has unclaimed matches."""
        outcomes: list[DigestOutcome] = []
        for digest in self.config.digests:
            if digest.immediate:
                outcomes.extend(self.send_digest(digest))
        return outcomes


EMAIL_TARGET = "email"


def delivery_lease(config: Config) -> timedelta:
    """How long a delivery being sent stays taken: longer than a send can last (three
    SMTP timeouts: connect, data, quit), after which a dead sender's delivery is
    due again."""
    timeout = config.smtp.timeout if config.smtp else timedelta(seconds=30)
    return max(timeout * 3, timedelta(seconds=5))


def channel_target(url: str) -> str:
    """A channel's delivery target: stable for its URL, and free of the URL's secrets."""
    return "channel:" + hashlib.sha256(url.encode()).hexdigest()[:16]


def delivery_targets(digest: DigestConfig) -> list[str]:
    """Where a run of ``digest`` goes: the email if it has recipients, each channel."""
    targets = [EMAIL_TARGET] if digest.recipients else []
    return targets + [channel_target(url) for url in digest.channels]


def _mail_domain(config: Config) -> str:
    """The Message-ID domain: the sender's, so ids are stable across hosts and restarts."""
    if config.smtp is not None and "@" in config.smtp.sender:
        return config.smtp.sender.rsplit("@", 1)[1]
    return "watcher.localhost"
