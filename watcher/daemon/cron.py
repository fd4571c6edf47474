"""Digest schedules: crontab lines read as crontab(5) reads them, in each digest's zone.

Pure functions over APScheduler's cron trigger, shared by the scheduler, `watcher
status` and the dashboard (which must not import the scheduler itself).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from watcher.config.schema import DigestConfig

# A digest missed while the daemon was down is still sent if it returns within this.
MISFIRE_GRACE = timedelta(hours=6)


def validate_crontab(expression: str) -> None:
    """Raise ValueError, with a message fit for a config error, unless APScheduler reads
    ``expression`` (already in weekday names, see watcher.config.fields.standard_weekdays)."""
    # Whether a cron expression parses does not depend on the zone it is read in.
    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        detail = str(exc)
        raise ValueError(
            f"{expression!r} is not a cron schedule (minute hour day month weekday): "
            f"{detail[:1].lower()}{detail[1:]}"
        ) from None


def digest_trigger(digest: DigestConfig) -> CronTrigger:
    """The cron trigger of a scheduled digest, in the digest's own timezone."""
    if digest.schedule is None:
        raise ValueError(f"digest {digest.name} has no schedule")
    return CronTrigger.from_crontab(digest.schedule, timezone=ZoneInfo(digest.timezone))


def fire_times(
    digest: DigestConfig, after: datetime, until: datetime, limit: int = 10_000
) -> list[datetime]:
    """The scheduled times of ``digest`` in (after, until], in UTC, at most ``limit``."""
    trigger = digest_trigger(digest)
    times: list[datetime] = []
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while fire is not None and fire <= until and len(times) < limit:
        times.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return times


def missed_fire_time(
    digest: DigestConfig, last_run: datetime | None, now: datetime, grace: timedelta
) -> datetime | None:
    """The latest scheduled time of ``digest`` after ``last_run`` and within ``grace`` of now.

    Pure: tells the daemon at start whether a digest came due while it was down.
    """
    if digest.schedule is None:
        return None
    since = max(now - grace, last_run) if last_run else now - grace
    missed = fire_times(digest, since, now)
    return missed[-1] if missed else None
