"""The `watcher` command: a thin click shell over the pipeline.

Exit status: 0 success; 1 a runtime failure (a feed or digest could not be
processed, the database failed mid-run); 2 bad usage or configuration
(including a database that cannot be opened).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import webbrowser
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from watcher import __version__
from watcher.cli.sources import register as register_source_commands
from watcher.config import Config, config_warnings, load_config, parse_duration
from watcher.exceptions import ConfigError, QueryError, StoreError, WatcherError
from watcher.logs import configure_logging
from watcher.models import PollOutcome, SendOutcome, StoredItem

if TYPE_CHECKING:
    # Only for annotations: importing the poll stage loads trafilatura and SQLAlchemy,
    # which `watcher --version` and `watcher check` do not need.
    from watcher.poll import PollResult

F = TypeVar("F", bound=Callable[..., Any])

EXIT_RUNTIME = 1
EXIT_USAGE = 2

log = logging.getLogger("watcher")


@dataclass
class Context:
    config_path: str | None
    log_level: str
    log_format: str

    def config(self) -> Config:
        try:
            return self.load()
        except ConfigError as exc:
            # Each problem already starts with the file's name; print them as they are.
            click.echo(str(exc), err=True)
            sys.exit(EXIT_USAGE)

    def config_or_defaults(self) -> Config:
        """The configuration if there is one to read, else the built-in defaults
        (for commands such as `discover` that are useful before feeds.yaml exists)."""
        unset = self.config_path is None and not os.environ.get("WATCHER_CONFIG")
        if unset and not Path("feeds.yaml").exists():
            return Config()
        return self.config()

    def load(self) -> Config:
        """Read and validate the configuration; raises ConfigError (the daemon's reload)."""
        return load_config(self.config_path, environ=os.environ)


def fail(message: str, status: int) -> NoReturn:
    """Print ``message`` to stderr (no traceback) and exit with ``status``."""
    click.echo(f"watcher: {message}" if "\n" not in message else message, err=True)
    sys.exit(status)


@contextmanager
def opened_store(config: Config, *, upgrade: bool = False) -> Iterator[Any]:
    """The store for ``config``; exit 2 when it cannot be opened, 1 on a later failure."""
    from watcher.store import Store

    try:
        store = Store.open(config.database)
    except StoreError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        if upgrade:
            store.upgrade()
        else:
            store.check_schema()
        yield store
    except StoreError as exc:
        fail(str(exc), EXIT_RUNTIME)
    finally:
        store.close()


# Options of the whole command that users also write after the subcommand
# (`watcher check --config F`); True when the option takes a value.
GLOBAL_OPTIONS = {"--config": True, "--log-level": True, "--log-format": True}


class GlobalOptionsGroup(click.Group):
    """The `watcher` group: its global options are accepted anywhere on the line.

    They are moved in front of the subcommand before click parses, so every command,
    however deeply nested, takes them without declaring them again. ``--`` ends the
    search, so an argument after it is never taken for an option.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with every global option (and its value) moved to the front."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            hoisted.append(arg)
            if "=" not in arg and GLOBAL_OPTIONS[name] and index + 1 < len(args):
                hoisted.append(args[index + 1])
                index += 1
        else:
            rest.append(arg)
        index += 1
    return hoisted + rest


@click.group(
    cls=GlobalOptionsGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="--config, --log-level and --log-format may also follow the subcommand.",
)
@click.version_option(__version__, prog_name="watcher")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $WATCHER_CONFIG, else ./feeds.yaml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str, log_format: str) -> None:
    """Watch RSS/Atom feeds for your topics and mail digests of what matched."""
    configure_logging(log_level, log_format)
    ctx.obj = Context(config_path, log_level, log_format)


pass_context = click.make_pass_decorator(Context)


@cli.command()
@pass_context
def check(ctx: Context) -> None:
    """Validate the configuration and the topic queries; exit 2 on any error."""
    from watcher.querystyle import quoted_phrase_warnings

    config = ctx.config()
    for warning in config_warnings(config):
        click.echo(f"{config.source}: warning: {warning}", err=True)
    from watcher.cli.labels import knowledge_warning

    stale = knowledge_warning(config)
    if stale:
        click.echo(f"{config.source}: warning: {stale}", err=True)
    source_text = Path(config.source).read_text(encoding="utf-8-sig")
    for located in quoted_phrase_warnings(source_text, config.source):
        click.echo(located, err=True)
    click.echo(
        f"{config.source}: ok — {len(config.feeds)} feeds, "
        + (f"{len(config.pages)} pages, " if config.pages else "")
        + (f"{len(config.watches)} watches, " if config.watches else "")
        + f"{len(config.topics)} topics, "
        f"{len(config.digests)} digests; database {_redacted_url(config.database)}; "
        f"delivery {'smtp ' + config.smtp.host if config.smtp else 'outbox ' + config.outbox}"
    )


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply the schema migrations shipped with this version."""
    config = ctx.config()
    with opened_store(config, upgrade=True):
        click.echo(f"database {_redacted_url(config.database)} is up to date")


@cli.command()
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
    from watcher.clock import utc_now
    from watcher.pipeline import Pipeline

    config = ctx.config()
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
                sys.exit(130)  # 128 + SIGINT, as shells report it
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


def _poll_summary(results: list[PollResult], sent: list[Any]) -> str:
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
    log.log(logging.WARNING if result.failed else logging.INFO, "%s", result.describe())


@cli.command()
@pass_context
def run(ctx: Context) -> None:
    """Run the daemon in the foreground until SIGINT/SIGTERM."""
    from watcher.daemon.scheduler import run_daemon

    config = ctx.config()
    with opened_store(config, upgrade=True) as store:
        try:
            run_daemon(config, store, reload_config=ctx.load)
        except WatcherError as exc:
            fail(str(exc), EXIT_RUNTIME)


@cli.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes polling at once (default: the number of CPUs).",
)
@pass_context
def worker(ctx: Context, concurrency: int | None) -> None:
    """Run a Celery worker that polls the feeds the scheduler (`watcher run`) hands out."""
    from watcher.daemon.celery_app import run_worker

    config = ctx.config()
    if config.executor != "celery":
        fail(f"{config.source}: `watcher worker` needs 'executor: celery'", EXIT_USAGE)
    from watcher.store import Store

    # Fail now, not in every task, when the database is unreachable. The schema is
    # the scheduler's: it migrates before it sends any task.
    try:
        Store.open(config.database).close()
    except StoreError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        status = run_worker(
            config, concurrency=concurrency or os.cpu_count() or 1, loglevel=ctx.log_level
        )
    except WatcherError as exc:
        fail(str(exc), EXIT_USAGE)
    sys.exit(status)


@cli.command()
@click.option("--feed", default=None, help="Only items of this feed.")
@click.option("--topic", default=None, help="Only items that matched this topic.")
@click.option("--since", default=None, help="Only items fetched within this duration (2d, 6h).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def items(
    ctx: Context, feed: str | None, topic: str | None, since: str | None, limit: int, fmt: str
) -> None:
    """List stored items, newest first, with the topics they matched."""
    from watcher.clock import utc_now

    config = ctx.config()
    if feed is not None and feed not in {source.name for source in config.sources}:
        fail(f"--feed: no feed named {feed!r} in {config.source}", EXIT_USAGE)
    if topic is not None and topic not in {t.name for t in config.topics}:
        fail(f"--topic: no topic named {topic!r} in {config.source}", EXIT_USAGE)
    since_at = utc_now() - _duration_option("--since", since) if since else None
    with opened_store(config) as store:
        found = store.items(feed=feed, topic=topic, since=since_at, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([_item_json(stored) for stored in found], indent=2))
        return
    # Newest first by the time shown (published, else fetched): one poll fetches a
    # feed's items together, so the store's fetched-at order says little within it.
    found = sorted(found, key=lambda s: (s.item.published or s.fetched_at, s.id), reverse=True)
    if found:
        click.echo(f"{'ID':>7}  {'WHEN':<16}  {'FEED':<16}  {'TOPICS':<24}  TITLE")
    for stored in found:
        when = (stored.item.published or stored.fetched_at).strftime("%Y-%m-%d %H:%M")
        topics = ",".join(m.topic for m in stored.matches) or "-"
        click.echo(
            f"{stored.id:>7}  {when}  {stored.item.feed:<16.16}  {topics:<24.24}  "
            f"{stored.item.title[:80]}"
        )


def _item_json(stored: StoredItem) -> dict[str, Any]:
    item = stored.item
    return {
        "id": stored.id,
        "feed": item.feed,
        "feed_title": stored.feed_title,
        "key": item.key,
        "url": item.url,
        "title": item.title,
        "summary": item.summary,
        "content_text": item.content_text,
        "author": item.author,
        "tags": list(item.tags),
        "language": item.language,
        "published": item.published.isoformat() if item.published else None,
        "updated": item.updated.isoformat() if item.updated else None,
        "fetched_at": stored.fetched_at.isoformat(),
        "matches": [
            {
                "topic": match.topic,
                "score": match.score,
                "hits": [
                    {"field": h.field, "start": h.start, "end": h.end, "term": h.term}
                    for h in match.hits
                ],
            }
            for match in stored.matches
        ],
    }


def _duration_option(option: str, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        fail(f"{option}: {exc}", EXIT_USAGE)


# -- digests ---------------------------------------------------------------------


@cli.group()
def digest() -> None:
    """Preview or send digests."""


@digest.command("preview")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["html", "text", "json"]), default="html")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write here instead of var/preview-NAME.html beside feeds.yaml.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in a browser.")
@pass_context
def digest_preview(
    ctx: Context, name: str, fmt: str, output: str | None, open_browser: bool
) -> None:
    """Render the next digest NAME without sending or claiming anything."""
    from watcher.outputs.digest import digest_as_json, render_digest
    from watcher.pipeline import Pipeline

    config = ctx.config()
    digest_config = _digest_named(config, name)
    with opened_store(config) as store, Pipeline(config, store) as pipeline:
        view = pipeline.digests.next_digest_view(digest_config)
    if fmt == "json":
        click.echo(json.dumps(digest_as_json(view), indent=2, ensure_ascii=False))
        return
    rendered = render_digest(
        view, templates_dir=Path(config.templates) if config.templates else None
    )
    if fmt == "text":
        click.echo(f"Subject: {rendered.subject}\n\n{rendered.text}")
        return
    # Beside the configuration's other state (var/ in its folder), wherever watcher runs.
    state = Path(config.source).resolve().parent / "var"
    path = Path(output or state / f"preview-{name}.html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rendered.html, encoding="utf-8")
    click.echo(f"{path} ({view.total} items): {rendered.subject}")
    if open_browser:
        webbrowser.open(path.resolve().as_uri())


@digest.command("send")
@click.argument("name")
@pass_context
def digest_send(ctx: Context, name: str) -> None:
    """Send digest NAME now: claim what is new and deliver it."""
    from watcher.pipeline import Pipeline

    config = ctx.config()
    digest_config = _digest_named(config, name)
    with opened_store(config, upgrade=True) as store, Pipeline(config, store) as pipeline:
        outcomes = pipeline.digests.send_digest(digest_config)
    if not outcomes:
        click.echo(f"digest {name}: nothing new to send")
    for outcome in outcomes:
        click.echo(
            f"digest {name} run {outcome.run_id}: {outcome.status}, {outcome.items} "
            f"items, {outcome.message_id}" + (f": {outcome.error}" if outcome.error else "")
        )
    if any(outcome.status != "sent" for outcome in outcomes):
        sys.exit(EXIT_RUNTIME)


def _digest_named(config: Config, name: str) -> Any:
    try:
        return config.digest(name)
    except KeyError:
        fail(f"no digest named {name!r} in {config.source}", EXIT_USAGE)


# -- topics --------------------------------------------------------------------------


@cli.group()
def topics() -> None:
    """Explain and backtest topics."""


@topics.command("explain")
@click.argument("topic")
@click.argument("item_id", type=int)
@pass_context
def topics_explain(ctx: Context, topic: str, item_id: int) -> None:
    """Show why stored item ITEM_ID does or does not match TOPIC."""
    from watcher.match import TopicIndex, format_explanation

    config = ctx.config()
    topic_config = _topic_named(config, topic)
    with opened_store(config) as store:
        try:
            stored = store.item(item_id)
        except KeyError:
            fail(f"no item with id {item_id}", EXIT_USAGE)
    index = TopicIndex.build([topic_config], config.lists)
    click.echo(f"item {item_id}: {stored.item.title}")
    click.echo(format_explanation(index.explain(topic, stored.item)))


@topics.command("test")
@click.argument("topic")
@click.option("--since", default="7d", show_default=True, help="Stored items fetched within.")
@click.option("--query", "draft", default=None, help="A draft query to try instead.")
@click.option("--limit", default=10_000, show_default=True, type=click.IntRange(1, 1_000_000))
@pass_context
def topics_test(ctx: Context, topic: str, since: str, draft: str | None, limit: int) -> None:
    """Backtest TOPIC (or a draft --query) over stored items."""
    from watcher.clock import utc_now
    from watcher.match import TopicIndex

    config = ctx.config()
    saved = _topic_named(config, topic)
    try:
        saved_index = TopicIndex.build([saved], config.lists)
        draft_index = (
            TopicIndex.build([saved.model_copy(update={"query": draft})], config.lists)
            if draft
            else None
        )
    except QueryError as exc:
        fail(f"--query: {exc}", EXIT_USAGE)
    since_at = utc_now() - _duration_option("--since", since)
    with opened_store(config) as store:
        found = store.items(since=since_at, limit=limit)
    saved_hits = {s.id for s in found if saved_index.match(s.item)}
    tried = draft_index or saved_index
    tried_hits = {s.id: s for s in found if tried.match(s.item)}
    per_feed = Counter(s.item.feed for s in tried_hits.values())
    for stored in tried_hits.values():
        click.echo(f"{stored.id:>7}  {stored.item.feed:<16.16}  {_highlight(tried, topic, stored)}")
    click.echo(
        f"{len(tried_hits)} of {len(found)} items match"
        + (
            " (" + ", ".join(f"{f}: {n}" for f, n in per_feed.most_common()) + ")"
            if per_feed
            else ""
        )
    )
    if draft_index is not None:
        gained = sorted(set(tried_hits) - saved_hits)
        lost = sorted(saved_hits - set(tried_hits))
        click.echo(f"newly matching: {len(gained)} {gained[:20]}")
        click.echo(f"no longer matching: {len(lost)} {lost[:20]}")
        from watcher.cli.labels import label_effects

        with opened_store(config) as store:
            for line in label_effects(store, topic, saved_index, draft_index):
                click.echo(line)


def _highlight(index: Any, topic: str, stored: StoredItem) -> str:
    title = stored.item.title
    matches = index.match(stored.item)
    spans = sorted((hit.start, hit.end) for m in matches for hit in m.hits if hit.field == "title")
    out, last = [], 0
    for start, end in spans:
        if start < last:
            continue
        out.append(title[last:start] + click.style(title[start:end], bold=True, underline=True))
        last = end
    out.append(title[last:])
    return "".join(out)


def _topic_named(config: Config, name: str) -> Any:
    try:
        return config.topic(name)
    except KeyError:
        fail(f"no topic named {name!r} in {config.source}", EXIT_USAGE)


@cli.command("eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="TOPIC=COLUMN",
    help="Score TOPIC against label COLUMN (default: see README).",
)
@click.option("--labels", "stored", is_flag=True, help="Score against the stored labels.")
@pass_context
def eval_command(ctx: Context, path: str | None, labels: tuple[str, ...], stored: bool) -> None:
    """Score the configured topics against a labelled JSONL file (or --labels)."""
    from watcher.match import TopicIndex
    from watcher.match.evaluate import default_label_column, evaluate, format_report, load_labelled

    config = ctx.config()
    if stored == (path is not None):
        fail("give either a labelled JSONL file or --labels", EXIT_USAGE)
    if path is None:
        from watcher.cli.labels import labelled_rows

        with opened_store(config) as store:
            stored_rows = labelled_rows(store)
        known = {topic.name for topic in config.topics}
        labelled = {topic for row in stored_rows for topic in row.labels if topic in known}
        if not labelled:
            fail("no stored labels for a configured topic (see watcher label)", EXIT_USAGE)
        index = TopicIndex.build(config.topics, config.lists)
        by_name = {topic.name: topic.name for topic in config.topics if topic.name in labelled}
        click.echo(format_report(evaluate(index, stored_rows, by_name, partial=True)))
        return
    try:
        rows = load_labelled(Path(path))
    except (OSError, ValueError) as exc:
        fail(f"{path}: {exc}", EXIT_USAGE)
    columns = sorted({column for row in rows for column in row.labels})
    explicit: dict[str, str] = {}
    for label in labels:
        topic, sep, column = label.partition("=")
        if not sep or topic not in {t.name for t in config.topics} or column not in columns:
            fail(
                f"--label {label!r}: expected TOPIC=COLUMN with a configured topic and one "
                f"of the file's columns ({', '.join(columns)})",
                EXIT_USAGE,
            )
        explicit[topic] = column
    mapping: dict[str, str] = {}
    for topic_config in config.topics:
        found = explicit.get(topic_config.name) or default_label_column(topic_config.name, columns)
        if found is not None:
            mapping[topic_config.name] = found
    if not mapping:
        fail(
            f"{path}: no configured topic maps to a label column ({', '.join(columns)})", EXIT_USAGE
        )
    report = evaluate(TopicIndex.build(config.topics, config.lists), rows, mapping)
    click.echo(format_report(report))


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where the demo's database and outbox go (rebuilt on every run).",
)
def demo(workdir: Path) -> None:
    """Run the whole pipeline offline on a sample news day and write its digest."""
    from watcher.demo import run_demo

    try:
        result = run_demo(workdir)
    except WatcherError as exc:
        fail(str(exc), EXIT_RUNTIME)
    click.echo(
        f"{result.feed_count} sample feeds, {result.item_count} items, "
        f"{result.match_count} matches; the digest lists {result.digest_item_count} items:\n"
        f"  {result.html_path}\n  {result.eml_path}"
    )


@cli.command()
@click.argument("url")
@click.option("--allow-private", is_flag=True, help="URL may be on a private network.")
@pass_context
def discover(ctx: Context, url: str, allow_private: bool) -> None:
    """Find the RSS/Atom/JSON feeds of a site and print feeds.yaml entries for them."""
    from watcher.cli.sources import blocked_hint, needs_allow_private, same_host_fetch
    from watcher.sources.discover import discovered_yaml, look_up_feeds
    from watcher.sources.fetch import FetchFailed

    config = ctx.config_or_defaults()
    fetcher, fetch = same_host_fetch(config, url, allow_private)
    with fetcher:
        lookup = look_up_feeds(url, fetch)
    if isinstance(lookup, FetchFailed):
        fail(blocked_hint(lookup.message), EXIT_RUNTIME)
    if not lookup.feeds:
        fail(
            f"{url}: no feed found (no <link rel=alternate>, none at the usual paths)", EXIT_RUNTIME
        )
    if lookup.is_feed:
        click.echo(f"{url} is a feed itself ({lookup.item_count} items)", err=True)
    private = allow_private and needs_allow_private(url)
    click.echo(f"add one with: watcher feeds add URL{' --allow-private' * private}", err=True)
    known = {source.name for source in config.sources}
    click.echo(discovered_yaml(lookup.feeds, existing_names=known, allow_private=private), nl=False)


@cli.command("export-feed")
@click.argument("name")
@click.option("--digest", "is_digest", is_flag=True, help="NAME is a digest, not a topic.")
@click.option("--self-url", default=None, help="The URL the feed will be served from.")
@pass_context
def export_feed(ctx: Context, name: str, is_digest: bool, self_url: str | None) -> None:
    """Write the Atom feed of topic NAME (or digest NAME) to standard output."""
    from watcher.outputs.publish import digest_feed, topic_feed
    from watcher.pipeline import Pipeline

    config = ctx.config()
    if is_digest:
        _digest_named(config, name)
    else:
        _topic_named(config, name)
    kind = "digests" if is_digest else "topics"
    # The daemon serves the feed at its http: host and port; the self link names them.
    http = config.http
    host = (f"[{http.host}]" if ":" in http.host else http.host) if http else "127.0.0.1"
    served_at = f"{host}:{http.port if http else 8787}"
    url = self_url or f"http://{served_at}/feeds/{kind}/{name}.atom"
    with opened_store(config) as store, Pipeline(config, store) as pipeline:
        render = digest_feed if is_digest else topic_feed
        body = render(pipeline, name, self_url=url)
    sys.stdout.buffer.write(body)


@cli.command()
@pass_context
def status(ctx: Context) -> None:
    """Print each source's, topic's and digest's state, and any broken promise."""
    from watcher.cli.status import format_status
    from watcher.clock import utc_now
    from watcher.pipeline import Pipeline

    config = ctx.config()
    with opened_store(config) as store, Pipeline(config, store) as pipeline:
        # What the next run of each digest would show: the same view as its preview.
        pending = {d.name: pipeline.digests.next_digest_view(d).total for d in config.digests}
        click.echo(format_status(config, store, utc_now(), pending))


def _redacted_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported elsewhere; never echo a password here
        return "<database>"


def _register_label_commands() -> None:
    from watcher.cli.labels import label_command, labels_group

    cli.add_command(label_command)
    cli.add_command(labels_group)


_register_label_commands()
# `watcher init`, `watcher feeds ...`, `watcher opml ...` (watcher/cli/sources.py).
register_source_commands(cli)


def main() -> None:
    """Console-script entry point."""
    # Everything watcher writes (database, outbox, locks) is for its user alone.
    os.umask(0o077)
    cli(prog_name="watcher")
