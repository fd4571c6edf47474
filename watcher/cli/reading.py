"""Reading what was stored: `watcher items`, `topics explain|test`, `eval`, `status`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from watcher.cli.context import (
    EXIT_USAGE,
    Context,
    duration_option,
    fail,
    opened_store,
    pass_context,
    topic_named,
)
from watcher.exceptions import QueryError
from watcher.models import StoredItem

if TYPE_CHECKING:
    from watcher.match.index import TopicIndex


@click.command()
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
    since_at = utc_now() - duration_option("--since", since) if since else None
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


@click.group()
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
    topic_config = topic_named(config, topic)
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
    saved = topic_named(config, topic)
    try:
        saved_index = TopicIndex.build([saved], config.lists)
        draft_index = (
            TopicIndex.build([saved.model_copy(update={"query": draft})], config.lists)
            if draft
            else None
        )
    except QueryError as exc:
        fail(f"--query: {exc}", EXIT_USAGE)
    since_at = utc_now() - duration_option("--since", since)
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


def _highlight(index: TopicIndex, topic: str, stored: StoredItem) -> str:
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


@click.command("eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="TOPIC=COLUMN",
    help="Score TOPIC against label COLUMN (default: see README).",
)
@click.option("--labels", "stored", is_flag=True, help="Score against the stored labels.")
@click.option("--held-out", is_flag=True, help="Figures and error kinds only, no item titles.")
@pass_context
def eval_command(
    ctx: Context, path: str | None, labels: tuple[str, ...], stored: bool, held_out: bool
) -> None:
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
    click.echo(format_report(report, list_items=not held_out))


@click.command()
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
