"""Sending digests: claim -> view -> render -> deliver, each delivery retried alone.

A digest run goes to its email and to each of its channels; every target is a
delivery of its own, marked sent only after the target took it, retried with a
backoff on a temporary failure, so a failing channel neither blocks nor repeats
the others. A crash between the send and the mark re-sends with the same
Message-ID.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from watcher.clock import Clock, utc_now
from watcher.config import Config, DigestConfig
from watcher.dashboard.links import FeedbackSigner
from watcher.exceptions import DeliveryError, TemporaryDeliveryError, WatcherError
from watcher.logs import RepeatedFailureLog
from watcher.models import SendOutcome, StoredItem
from watcher.outputs.channels import make_channel
from watcher.outputs.deliver import Transport, retry_delay
from watcher.outputs.digest import (
    FeedbackLinks,
    build_message,
    check_renderer_installed,
    make_message_id,
    render_digest,
)
from watcher.outputs.short import render_short_message
from watcher.outputs.view import DigestView, SourceLink, build_digest_view
from watcher.store import Delivery, DigestRun, Store
from watcher.stories import StoryAssigner

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    """What sending one digest run did: sent, retry later, or failed for good."""

    digest: str
    run_id: int
    status: SendOutcome
    items: int
    message_id: str
    error: str | None = None


class DigestSender:
    """Claims digests and sends them: claim -> view -> render -> deliver, with retries.

    Holds no state of its own beyond its collaborators, so any process with the
    same config and store can send (the daemon's delivery thread, `watcher digest
    send`, `watcher poll --once`); the store's claims and delivery leases keep
    two senders from doubling a message.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        transport: Transport,
        stories: StoryAssigner,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.transport = transport
        self.stories = stories
        self.clock = clock
        self.rng = rng or random.Random()
        # Rendering imports its libraries on first use; a missing one fails here, at
        # the start of the command or daemon, not at its first digest.
        check_renderer_installed()
        # One log line per kind of failure of each digest, not one per delivery round.
        self._failure_logs: dict[str, RepeatedFailureLog] = {}

    def send_digest(self, digest: DigestConfig) -> list[DigestOutcome]:
        """Claim what is new for ``digest`` and send it, plus any of its runs due a retry.

        The claim is one transaction (see Store.claim_digest) that also records one
        delivery per target: the email (when the digest has recipients) and each
        channel. A delivery is marked sent only after its target accepted it, and
        retried on its own, so a failing channel neither blocks nor repeats the
        others. A crash in between re-sends with the same Message-ID.
        """
        now = self.clock()
        try:
            self.stories.assign_pending(now)
        except WatcherError as exc:
            # Stories only group the digest; it goes out ungrouped rather than late.
            log.error("stories not assigned before digest %s: %s", digest.name, exc)
        self.store.claim_digest(self.with_watches(digest), now, delivery_targets(digest))
        return self.send_due_runs(digest)

    def send_due_runs(self, digest: DigestConfig) -> list[DigestOutcome]:
        """Send the runs of ``digest`` claimed earlier whose deliveries are due."""
        return [
            self.send_run(digest, run)
            for run in self.store.pending_digest_runs(self.clock(), digest.name)
        ]

    def deliver_pending(self) -> list[DigestOutcome]:
        """What the daemon's delivery loop does each round, whatever the polls did:
        claim and send the immediate digests' new matches, and send every claimed
        run of any digest whose delivery is due (first tries after a crash,
        retries after a refusal).

        One digest's failure (the database, rendering, a bug) is logged and never
        keeps the others from going out.
        """
        outcomes: list[DigestOutcome] = []
        for digest in self.config.digests:
            try:
                # A cheap read first: rounds run every few seconds and must not write.
                if digest.immediate and self.store.has_unclaimed(self.with_watches(digest)):
                    outcomes.extend(self.send_digest(digest))
                else:
                    outcomes.extend(self.send_due_runs(digest))
                self._failures(digest.name).succeeded()
            except Exception as exc:
                self._failures(digest.name).failed(exc)
        return outcomes

    def _failures(self, digest: str) -> RepeatedFailureLog:
        if digest not in self._failure_logs:
            self._failure_logs[digest] = RepeatedFailureLog(log, f"digest {digest}")
        return self._failure_logs[digest]

    def send_run(self, digest: DigestConfig, run: DigestRun) -> DigestOutcome:
        """Attempt every delivery of ``run`` that is due; what happened, overall.

        A delivery that fails for any reason but a permanent refusal (including a
        bug in rendering) is retried with a backoff, never dropped and never spun on.
        """
        message_id = run.message_id or make_message_id(
            run.id, digest.name, mail_domain(self.config)
        )
        if run.message_id is None:
            self.store.set_message_id(run.id, message_id)
        channels = {channel_target(url): url for url in digest.channels}
        errors: list[str] = []
        statuses: list[SendOutcome] = []
        lease = delivery_lease(self.config)
        view: DigestView | None = None
        for delivery in run.due(self.clock()):
            if not self.store.begin_delivery(
                run.id, delivery.target, now=self.clock(), lease=lease
            ):
                continue  # another sender has it
            try:
                if view is None:
                    # Rendered as of the claim, so a re-send is the same digest.
                    view = self.digest_view(digest, run.items, now=run.created_at)
                if delivery.target == EMAIL_TARGET:
                    self.transport.send(self._email(digest, run, view, message_id))
                elif delivery.target in channels:
                    channel = make_channel(channels[delivery.target])
                    channel.send(render_short_message(view, idempotency_key=message_id))
                else:
                    raise DeliveryError(f"{delivery.target} is no longer configured")
            except DeliveryError as exc:
                if isinstance(exc, TemporaryDeliveryError):
                    statuses.append(self._retry_later(digest, run, delivery, str(exc)))
                else:
                    self.store.mark_delivery(
                        run.id, delivery.target, now=self.clock(), error=str(exc)
                    )
                    log.error(
                        "digest %s run %d to %s failed for good: %s",
                        digest.name,
                        run.id,
                        delivery.target,
                        exc,
                    )
                    statuses.append(SendOutcome.FAILED)
                errors.append(str(exc))
            except Exception as exc:
                log.exception(
                    "digest %s run %d to %s crashed", digest.name, run.id, delivery.target
                )
                error = f"{type(exc).__name__}: {exc}"
                statuses.append(self._retry_later(digest, run, delivery, error))
                errors.append(error)
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
                statuses.append(SendOutcome.SENT)
        status = (
            SendOutcome.FAILED
            if SendOutcome.FAILED in statuses
            else SendOutcome.RETRY
            if SendOutcome.RETRY in statuses or not statuses
            else SendOutcome.SENT
        )
        items = view.total if view is not None else len(run.items)
        return DigestOutcome(
            digest.name, run.id, status, items, message_id, "; ".join(errors) or None
        )

    def _retry_later(
        self, digest: DigestConfig, run: DigestRun, delivery: Delivery, error: str
    ) -> SendOutcome:
        attempt = delivery.attempts + 1
        if digest.immediate:
            # An alert is worth little late: it is tried again within a minute of the
            # fault clearing, however long the fault lasted.
            delay = retry_delay(attempt, base=ALERT_RETRY_BASE, cap=ALERT_RETRY_CAP, rng=self.rng)
        else:
            delay = retry_delay(attempt, rng=self.rng)
        retry_at = self.clock() + delay
        self.store.mark_delivery(
            run.id, delivery.target, now=self.clock(), error=error, retry_at=retry_at
        )
        log.warning(
            "digest %s run %d to %s not delivered, retrying at %s: %s",
            digest.name,
            run.id,
            delivery.target,
            retry_at.isoformat(timespec="seconds"),
            error,
        )
        return SendOutcome.RETRY

    def _email(
        self, digest: DigestConfig, run: DigestRun, view: DigestView, message_id: str
    ) -> EmailMessage:
        templates = Path(self.config.templates) if self.config.templates else None
        rendered = render_digest(view, templates_dir=templates, feedback_links=self._feedback())
        sender = self.config.smtp.sender if self.config.smtp else "watcher@localhost"
        return build_message(
            rendered,
            sender=sender,
            recipients=digest.recipients,
            message_id=message_id,
            date=run.created_at,
        )

    def _feedback(self) -> FeedbackLinks | None:
        """Signed dashboard links for each digest entry, when http.public_url is set."""
        http = self.config.http
        if http is None or http.public_url is None or http.token is None:
            return None
        signer = FeedbackSigner(http.token.get_secret_value())
        return functools.partial(signer.links, http.public_url)

    def with_watches(self, digest: DigestConfig) -> DigestConfig:
        """``digest`` with its watches' pseudo-topics among its topics, for claims and views."""
        return digest.with_watch_topics()

    def next_digest_view(self, digest: DigestConfig) -> DigestView:
        """What the next run of ``digest`` would show now, claiming nothing (the preview,
        and the pending count of `watcher status`)."""
        now = self.clock()
        try:
            # Grouping into stories is bookkeeping every digest needs, not a claim.
            self.stories.assign_pending(now)
        except WatcherError as exc:
            log.error("stories not assigned for the preview of %s: %s", digest.name, exc)
        pending = self.store.unclaimed_items(self.with_watches(digest))
        return self.digest_view(digest, pending, now=now)

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
        return build_digest_view(
            digest, self.config.section_titles(), leaders, now=now, also_reported_by=also
        )

    def send_immediate_alerts(self) -> list[DigestOutcome]:
        """Send every ``immediate: true`` digest's new matches and its due retries."""
        outcomes: list[DigestOutcome] = []
        for digest in self.config.digests:
            if digest.immediate:
                outcomes.extend(self.send_digest(digest))
        return outcomes


EMAIL_TARGET = "email"
# Retries of immediate alerts: 10 s, 20 s, 40 s, then every minute (with jitter below).
ALERT_RETRY_BASE = timedelta(seconds=10)
ALERT_RETRY_CAP = timedelta(seconds=60)


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


def mail_domain(config: Config) -> str:
    """The Message-ID domain: the sender's, so ids are stable across hosts and restarts."""
    if config.smtp is not None and "@" in config.smtp.sender:
        return config.smtp.sender.rsplit("@", 1)[1]
    return "watcher.localhost"
