"""The store's digests: claims, runs and deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from watcher.models import (
    StoredItem,
)
from watcher.store import records
from watcher.store.base import StoreBase
from watcher.store.tables import (
    DeliveryRow,
    DigestClaimRow,
    DigestRunRow,
    FeedRow,
    ItemRow,
    MatchRow,
)
from watcher.store.values import DigestRun


class ClaimingDigest(Protocol):
    """What the store reads of a digest (a ``DigestConfig`` is one), so that the store
    does not depend on the configuration."""

    @property
    def name(self) -> str: ...
    @property
    def topics(self) -> Sequence[str]: ...
    @property
    def min_score(self) -> float: ...
    @property
    def immediate(self) -> bool: ...
    @property
    def send_empty(self) -> bool: ...


class DigestStore(StoreBase):
    """Digest runs: what they claimed and where they went."""

    def digest_items(self, digest: str, limit: int = 50) -> list[StoredItem]:
        """The items the latest runs of ``digest`` showed, newest claim first.

        Each item carries only the matches that digest claimed for it."""
        with self._session(write=False) as session:
            claims = (
                select(DigestClaimRow.match_id, MatchRow.item_id)
                .join(MatchRow, MatchRow.id == DigestClaimRow.match_id)
                .where(DigestClaimRow.digest == digest, DigestClaimRow.suppressed.is_(False))
                .order_by(DigestClaimRow.id.desc())
                .limit(limit * 4)
            )
            match_ids: set[int] = set()
            item_ids: list[int] = []
            for match_id, item_id in session.execute(claims):
                match_ids.add(match_id)
                if item_id not in item_ids:
                    item_ids.append(item_id)
            item_ids = item_ids[:limit]
            rows = session.execute(
                select(ItemRow, FeedRow)
                .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                .where(ItemRow.id.in_(item_ids))
            ).all()
            order = {item_id: rank for rank, item_id in enumerate(item_ids)}
            found = records.stored_items(session, rows, match_ids)
            return sorted(found, key=lambda stored: order[stored.id])

    def claim_digest(
        self, digest: ClaimingDigest, now: datetime, targets: Sequence[str] = ("email",)
    ) -> DigestRun | None:
        """Create a digest run and claim every unclaimed match of its topics, atomically.

        Returns None when there is nothing to claim and the digest does not send
        empty runs. A match is claimed by at most one run of a digest name (a unique
        constraint enforces it even against a concurrent claimer).

        For an ``immediate`` digest, a match whose item belongs to a story this digest
        already alerted about is claimed as suppressed: not shown, not sent again (the
        next scheduled digest lists it as another source of the story). A run with
        only suppressed matches is recorded as 'suppressed' and None is returned.
        """
        with self._session() as session:
            run = DigestRunRow(
                digest=digest.name,
                created_at=now,
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
            session.add(run)
            session.flush()
            unclaimed = select(MatchRow.id).where(_unclaimed_by(digest))
            rows = session.execute(
                select(MatchRow.id, ItemRow.story_id)
                .join(ItemRow, ItemRow.id == MatchRow.item_id)
                .where(MatchRow.id.in_(unclaimed))
            ).all()
            if not rows and not digest.send_empty:
                session.delete(run)
                return None
            alerted: set[int] = set()
            if digest.immediate:
                alerted = set(
                    session.scalars(
                        select(ItemRow.story_id)
                        .join(MatchRow, MatchRow.item_id == ItemRow.id)
                        .join(DigestClaimRow, DigestClaimRow.match_id == MatchRow.id)
                        .where(
                            DigestClaimRow.digest == digest.name,
                            DigestClaimRow.suppressed.is_(False),
                            ItemRow.story_id.is_not(None),
                        )
                    )
                )
            claims = [
                {
                    "run_id": run.id,
                    "digest": digest.name,
                    "match_id": match_id,
                    "suppressed": story_id is not None and story_id in alerted,
                }
                for match_id, story_id in rows
            ]
            if claims:
                session.execute(insert(DigestClaimRow), claims)
            if claims and all(claim["suppressed"] for claim in claims):
                run.status = "suppressed"
                return None
            session.execute(
                insert(DeliveryRow),
                [
                    {
                        "run_id": run.id,
                        "target": target,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                    for target in targets
                ],
            )
            return records.digest_run(session, run)

    def unclaimed_items(self, digest: ClaimingDigest) -> list[StoredItem]:
        """What the next run of ``digest`` would cover, without claiming anything."""
        with self._session(write=False) as session:
            query = (
                select(ItemRow, FeedRow)
                .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                .where(
                    select(MatchRow.id)
                    .where(MatchRow.item_id == ItemRow.id, _unclaimed_by(digest))
                    .exists()
                )
                .order_by(ItemRow.fetched_at, ItemRow.id)
            )
            return records.stored_items(session, session.execute(query).all())

    def has_unclaimed(self, digest: ClaimingDigest) -> bool:
        """Whether the next run of ``digest`` would claim anything: one cheap read, so a
        delivery loop can ask every few seconds without writing."""
        with self._session(write=False) as session:
            found = session.scalar(select(MatchRow.id).where(_unclaimed_by(digest)).limit(1))
            return found is not None

    def undelivered_since(
        self, digests: Sequence[ClaimingDigest]
    ) -> dict[str, tuple[datetime, str | None]]:
        """Per digest with something not yet delivered: since when it has waited, and
        the last error. Waiting are claimed runs not yet sent (since their claim) and,
        for immediate digests, matches not yet claimed (since they were matched)."""
        waiting: dict[str, tuple[datetime, str | None]] = {}
        with self._session(write=False) as session:
            names = [digest.name for digest in digests]
            runs = session.execute(
                select(DigestRunRow.digest, DigestRunRow.created_at, DigestRunRow.last_error)
                .where(DigestRunRow.status == "pending", DigestRunRow.digest.in_(names))
                .order_by(DigestRunRow.created_at.desc())
            ).all()
            for name, created_at, last_error in runs:
                waiting[name] = (created_at, last_error)  # the oldest wins: rows run newest first
            for digest in digests:
                if not digest.immediate:
                    continue
                oldest = session.scalar(
                    select(func.min(MatchRow.matched_at)).where(_unclaimed_by(digest))
                )
                if oldest is not None and (
                    digest.name not in waiting or oldest < waiting[digest.name][0]
                ):
                    waiting[digest.name] = (oldest, waiting.get(digest.name, (oldest, None))[1])
        return waiting

    def pending_digest_runs(self, now: datetime, digest: str | None = None) -> list[DigestRun]:
        """Runs claimed but not yet sent whose next attempt is due, oldest first."""
        with self._session(write=False) as session:
            query = select(DigestRunRow).where(
                DigestRunRow.status == "pending", DigestRunRow.next_attempt_at <= now
            )
            if digest is not None:
                query = query.where(DigestRunRow.digest == digest)
            rows = session.scalars(query.order_by(DigestRunRow.id)).all()
            return [records.digest_run(session, row) for row in rows]

    def set_message_id(self, run_id: int, message_id: str) -> None:
        """Fix a run's Message-ID before the first send, so every re-send carries it."""
        with self._session() as session:
            session.execute(
                update(DigestRunRow)
                .where(DigestRunRow.id == run_id, DigestRunRow.message_id.is_(None))
                .values(message_id=message_id)
            )

    def begin_delivery(self, run_id: int, target: str, *, now: datetime, lease: timedelta) -> bool:
        """Take one due delivery for sending; False when it is not due or another sender
        (a thread, a `watcher digest send`, a second scheduler) took it first.

        Its next attempt moves to ``now + lease``: if this sender dies mid-send the
        delivery comes due again then, and is re-sent with the same Message-ID.
        """
        with self._session() as session:
            result = session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.run_id == run_id,
                    DeliveryRow.target == target,
                    DeliveryRow.status == "pending",
                    or_(DeliveryRow.next_attempt_at.is_(None), DeliveryRow.next_attempt_at <= now),
                )
                .values(next_attempt_at=now + lease),
                execution_options={"synchronize_session": False},
            )
            return int(getattr(result, "rowcount", 0)) == 1

    def release_delivery_leases(self, now: datetime) -> int:
        """Make every pending delivery due now; how many were waiting.

        For a sender that knows it is the only one (the daemon holding the SQLite
        lock, the elected scheduler) at start-up: a delivery its killed predecessor
        had taken is due at once instead of when the lease ends, and one waiting for
        a retry is tried now, which a restart is a natural moment for.
        """
        with self._session() as session:
            result = session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at > now)
                .values(next_attempt_at=now),
                execution_options={"synchronize_session": False},
            )
            session.execute(
                update(DigestRunRow)
                .where(DigestRunRow.status == "pending", DigestRunRow.next_attempt_at > now)
                .values(next_attempt_at=now),
                execution_options={"synchronize_session": False},
            )
            return int(getattr(result, "rowcount", 0))

    def mark_delivery(
        self,
        run_id: int,
        target: str,
        *,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record one delivery attempt: sent (no error), to retry at ``retry_at``, or
        failed for good (an error and no retry). The run is sent once every delivery
        is, failed once none is pending and one failed, else due at the earliest retry.
        """
        status = "sent" if error is None else ("pending" if retry_at is not None else "failed")
        with self._session() as session:
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.run_id == run_id, DeliveryRow.target == target)
                .values(
                    status=status,
                    attempts=DeliveryRow.attempts + 1,
                    last_error=error,
                    next_attempt_at=retry_at if status == "pending" else None,
                    sent_at=now if status == "sent" else None,
                )
            )
            rows = session.scalars(select(DeliveryRow).where(DeliveryRow.run_id == run_id)).all()
            pending = [row.next_attempt_at or now for row in rows if row.status == "pending"]
            run_values: dict[str, Any] = {"attempts": DigestRunRow.attempts + 1}
            if pending:
                run_values.update(status="pending", next_attempt_at=min(pending))
            elif any(row.status == "failed" for row in rows):
                failed = [row.last_error or "" for row in rows if row.status == "failed"]
                run_values.update(status="failed", next_attempt_at=None, last_error=failed[0])
            else:
                run_values.update(status="sent", sent_at=now, next_attempt_at=None, last_error=None)
            if error is not None:
                run_values["last_error"] = error
            session.execute(
                update(DigestRunRow).where(DigestRunRow.id == run_id).values(**run_values)
            )

    def last_digest_sent(self) -> dict[str, datetime]:
        with self._session(write=False) as session:
            query = (
                select(DigestRunRow.digest, func.max(DigestRunRow.sent_at))
                .where(DigestRunRow.status == "sent")
                .group_by(DigestRunRow.digest)
            )
            return {name: when for name, when in session.execute(query) if when}

    def last_digest_runs(self) -> dict[str, datetime]:
        """When each digest last claimed a run (sent or not)."""
        with self._session(write=False) as session:
            query = select(DigestRunRow.digest, func.max(DigestRunRow.created_at)).group_by(
                DigestRunRow.digest
            )
            return dict(session.execute(query).all())


def _unclaimed_by(digest: ClaimingDigest) -> ColumnElement[bool]:
    """Matches of the digest's topics, strong enough for it, that no run of it claimed."""
    return and_(
        MatchRow.topic.in_(digest.topics),
        MatchRow.score >= digest.min_score,
        ~select(DigestClaimRow.id)
        .where(DigestClaimRow.digest == digest.name, DigestClaimRow.match_id == MatchRow.id)
        .exists(),
    )
