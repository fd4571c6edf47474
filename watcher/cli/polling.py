"""`watcher poll --once`, `watcher run` and `watcher worker`: where polls run."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections import Counter
from typing import TYPE_CHECKING

import click

from watcher.cli.context import (
    EXIT_RUNTIME,
    EXIT_USAGE,
    Context,
    fail,
    log,
    opened_store,
    pass_context,
)
from watcher.exceptions import WatcherError
from watcher.models import PollOutcome, SendOutcome

if TYPE_CHECKING:
    # Only for annotations: importing the poll stage loads trafilatura and SQLAlchemy,
    # which `watcher --version` and `watcher check` do not need.
    from watcher.outputs.send import DigestOutcome
    from watcher.poll import PollResult


# Allocations between the collector's young collections in `poll --once` (default 700).
_POLL_GC_THRESHOLD = 20_000


@click.command()
@click.option("--once", is_flag=True, required=True, help="Poll every source once, then exit.")
@click.option(
    "--source",
    "--feed",
    "source_names",
    multiple=True,
    help="Only this feed, listing page or watch (repeatable).",
)
@pass_context
def poll(ctx: Context, once: bool, source_names: tuple[str, ...]) -> None:
    """Poll sources (feeds, pages, watches) once now, due or not; send immediate alerts."""
    # A one-shot process allocates most of what it will ever hold up front (modules,
    # the configuration, the topic index): the collector's default of a young
    # collection every 700 allocations ran ~480 of them in a warm poll of 1,000 feeds
    # (~0.1 s of CPU). Cyclic garbage waits longer; the process soon exits anyway.
    gc.set_threshold(_POLL_GC_THRESHOLD, *gc.get_threshold()[1:])
    from watcher.clock import utc_now
    from watcher.pipeline import Pipeline

    config = ctx.config()
    # What exists now (the modules, the configuration) lives as long as this process:
    # frozen, it is left out of every later collection, whose full ones walked it all
    # again (~0.1 s of CPU in a warm poll of 1,000 feeds, issue #18).
    gc.freeze()
    known = {source.name for source in config.sources}
    for name in source_names:
        if name not in known:
            fail(f"--source: no source named {name!r} in {config.source}", EXIT_USAGE)
    with opened_store(config, upgrade=True) as store:
        store.sync_sources(config.sources, utc_now())
        with Pipeline(config, store) as pipeline:
            sources = pipeline.enabled_sources(source_names or None)
            show_bar = sys.stderr.isatty() and ctx.log_level != "debug"
            # Results as they finish, so that Ctrl-C can still report what was done.
            finished: list[PollResult] = []
            try:
                if show_bar:
                    with click.progressbar(
                        length=len(sources), label="polling", file=sys.stderr
                    ) as bar:

                        def advance(result: PollResult) -> None:
                            finished.append(result)
                            bar.update(1)

                        results = pipeline.poll(sources, on_result=advance)
                else:

                    def record(result: PollResult) -> None:
                        finished.append(result)
                        _log_poll_result(result)

                    results = pipeline.poll(sources, on_result=record)
                outcomes = pipeline.digests.send_immediate_alerts()
            except KeyboardInterrupt:
                click.echo(
                    f"interrupted after {len(finished)} of {len(sources)} sources; "
                    + _poll_summary(finished, [])
                )
                sys.stdout.flush()
                sys.stderr.flush()
                # 128 + SIGINT, as shells report it. os._exit: the interpreter would
                # otherwise wait for polls in flight (each up to its fetch deadline);
                # each poll commits in one transaction, so cutting one off loses nothing.
                os._exit(130)
    sent = [outcome for outcome in outcomes if outcome.status == SendOutcome.SENT]
    undelivered = [outcome for outcome in outcomes if outcome.status != SendOutcome.SENT]
    click.echo(_poll_summary(results, sent))
    for outcome in undelivered:
        click.echo(
            f"alert {outcome.digest} (run {outcome.run_id}) not delivered: "
            f"{outcome.status}: {outcome.error or 'nothing was due'}",
            err=True,
        )
    failed = sum(result.failed for result in results)
    if (results and failed == len(results)) or undelivered:
        sys.exit(EXIT_RUNTIME)


def _poll_summary(results: list[PollResult], sent: list[DigestOutcome]) -> str:
    kinds = Counter(result.error_kind for result in results if result.failed)
    failed = sum(kinds.values())
    return (
        f"polled {len(results)} sources: "
        f"{sum(r.result.fetched for r in results)} fetched, "
        f"{sum(r.result == PollOutcome.NOT_MODIFIED for r in results)} not modified, "
        f"{failed} failed"
        + (" (" + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) + ")" if failed else "")
        + f"; {sum(r.new_items for r in results)} new items, "
        f"{sum(r.changed_items for r in results)} updated, "
        f"{sum(r.new_matches for r in results)} new matches"
        + (f"; {len(sent)} alerts sent" if sent else "")
    )


def _log_poll_result(result: PollResult) -> None:
    level = logging.WARNING if result.failed else logging.INFO
    # Asked first: a poll of 1,000 sources at the default level would otherwise
    # format a line for each only for logging to drop it.
    if log.isEnabledFor(level):
        log.log(level, "%s", result.describe())


@click.command()
@pass_context
def run(ctx: Context) -> None:
    """Run the daemon in the foreground until SIGINT/SIGTERM."""
    from watcher.daemon.process import run_daemon

    config = ctx.config()
    with opened_store(config, upgrade=True) as store:
        try:
            run_daemon(config, store, reload_config=ctx.load)
        except WatcherError as exc:
            fail(str(exc), EXIT_RUNTIME)
    _exit_without_waiting_for_polls()


def _exit_without_waiting_for_polls() -> None:
    """Exit at once, even when a poll is still running past ``shutdown_wait``.

    At exit Python joins every thread of a ThreadPoolExecutor, so a poll stuck on a
    database that refuses writes would hold the process beyond the shutdown_wait the
    daemon promises. Such a poll keeps its lease until the lease expires, as it would
    if the process were killed, and its source is polled again then.
    """
    import threading

    # Poll threads (named "poll_N" by their executors) that have not ended once told
    # to: idle ones end at once when their pool shuts down, busy ones do not.
    polls = [thread for thread in threading.enumerate() if thread.name.startswith("poll")]
    for thread in polls:
        thread.join(0.5)
    running = [thread for thread in polls if thread.is_alive()]
    if not running:
        return
    log.warning(
        "exiting with %d thread(s) still busy past shutdown_wait; a poll cut off is "
        "polled again when its lease expires",
        len(running),
    )
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Feeds this worker polls at once, on threads of one process "
    "(default: defaults.workers); parsing and matching use defaults.processes.",
)
@pass_context
def worker(ctx: Context, concurrency: int | None) -> None:
    """Run a Celery worker that polls the feeds the scheduler (`watcher run`) hands out."""
    from watcher.daemon.celery_app import run_worker

    config = ctx.config()
    if config.executor != "celery":
        fail(f"{config.source}: `watcher worker` needs 'executor: celery'", EXIT_USAGE)
    # run_worker opens the database before it takes a task, so an unreachable one
    # fails here (a StoreError) rather than in every task. The schema is the
    # scheduler's: it migrates before it sends any task.
    try:
        status = run_worker(
            config, concurrency=concurrency or config.defaults.workers, loglevel=ctx.log_level
        )
    except WatcherError as exc:
        fail(str(exc), EXIT_USAGE)
    sys.exit(status)
