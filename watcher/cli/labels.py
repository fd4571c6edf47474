"""Commands for readers' judgements (issue #20).

``watcher label ITEM_ID TOPIC yes|no`` records a judgement; ``watcher labels list``
shows them; ``watcher labels export`` writes them as JSON Lines in the format of
``watcher eval`` (one row per item, one boolean column per labelled topic);
``watcher eval --labels`` scores the topics against them, and ``watcher topics
test --query`` says which labelled items a draft query would fix or break.

Registered on the ``watcher`` group at the end of ``watcher.cli``; thin over the
store's labels and ``watcher.match.evaluate``.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from watcher.cli.context import EXIT_USAGE, Context, fail, opened_store, pass_context
from watcher.clock import utc_now
from watcher.config import Config
from watcher.match.evaluate import LabelledRow

if TYPE_CHECKING:
    from watcher.match.index import TopicIndex
    from watcher.store import Store

_ANSWERS = {"yes": True, "no": False}


def knowledge_warning(config: Config) -> str | None:
    """``watcher check``'s warning when topics use shipped lists older than six months."""
    from watcher.knowledge import stale_warning

    if not any("@" in f"{topic.query} {topic.exclude or ''}" for topic in config.topics):
        return None
    return stale_warning(utc_now().date())


def labelled_rows(store: Store, topic: str | None = None) -> list[LabelledRow]:
    """Stored labels as eval rows, one per labelled item (id order); an item's row has
    a column per topic it was labelled for, named like the topic."""
    by_item: dict[int, dict[str, bool]] = {}
    for label in store.labels(topic=topic):
        by_item.setdefault(label.item_id, {})[label.topic] = label.relevant
    rows: list[LabelledRow] = []
    for item_id in sorted(by_item):
        item = store.item(item_id).item
        rows.append(
            LabelledRow(
                id=str(item_id),
                title=item.title,
                summary=item.summary,
                labels=by_item[item_id],
                lang=item.language,
            )
        )
    return rows


@click.command("label")
@click.argument("item_id", type=int)
@click.argument("topic")
@click.argument("answer", type=click.Choice(["yes", "no"], case_sensitive=False))
@pass_context
def label_command(ctx: Context, item_id: int, topic: str, answer: str) -> None:
    """Record whether stored item ITEM_ID is relevant to TOPIC (yes or no)."""
    config = ctx.config()
    if topic not in {known.name for known in config.topics}:
        fail(f"no topic named {topic!r} in {config.source}", EXIT_USAGE)
    with opened_store(config) as store:
        try:
            label = store.set_label(
                item_id, topic, _ANSWERS[answer.lower()], origin="cli", now=utc_now()
            )
        except KeyError:
            fail(f"no item with id {item_id}", EXIT_USAGE)
    verdict = "relevant" if label.relevant else "not relevant"
    click.echo(f"item {item_id}: {verdict} to {topic}")


@click.group("labels")
def labels_group() -> None:
    """Readers' labels: list and export."""


@labels_group.command("list")
@click.option("--topic", default=None, help="Only this topic's labels.")
@pass_context
def labels_list(ctx: Context, topic: str | None) -> None:
    """Show stored labels, newest first."""
    config = ctx.config()
    with opened_store(config) as store:
        labels = store.labels(topic=topic)
        counts = store.label_counts()
    for label in labels:
        click.echo(
            f"{label.item_id:>7}  {label.topic:<20} {'yes' if label.relevant else 'no ':<4}"
            f"{label.origin:<6} {label.labelled_at:%Y-%m-%d %H:%M}"
        )
    for name, (yes, no) in sorted(counts.items()):
        if topic is None or name == topic:
            click.echo(f"{name}: {yes} relevant, {no} not relevant")


@labels_group.command("export")
@click.option("--topic", default=None, help="Only this topic's labels.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default="-",
    help="File to write (default: standard output).",
)
@pass_context
def labels_export(ctx: Context, topic: str | None, output: str) -> None:
    """Write stored labels as eval-compatible JSON Lines."""
    config = ctx.config()
    with opened_store(config) as store:
        rows = labelled_rows(store, topic)
    lines = [
        json.dumps(
            {
                "id": row.id,
                "lang": row.lang,
                "title": row.title,
                "summary": row.summary,
                **row.labels,
            },
            ensure_ascii=False,
        )
        for row in rows
    ]
    text = "".join(line + "\n" for line in lines)
    if output == "-":
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)
        click.echo(f"{len(rows)} labelled items written to {output}", err=True)


def label_effects(store: Store, topic: str, saved: TopicIndex, draft: TopicIndex) -> list[str]:
    """Lines saying which labelled items of ``topic`` the draft index fixes or breaks."""
    fixed: list[str] = []
    broken: list[str] = []
    still_wrong = 0
    labels = store.labels(topic=topic)
    for label in labels:
        item = store.item(label.item_id).item
        before = bool(saved.match(item)) == label.relevant
        after = bool(draft.match(item)) == label.relevant
        answer = "yes" if label.relevant else "no"
        line = f"  {label.item_id:>7}  labelled {answer:<3}  {item.title}"
        if after and not before:
            fixed.append(line)
        elif before and not after:
            broken.append(line)
        elif not after:
            still_wrong += 1
    if not labels:
        return [f"no labelled items for {topic} (watcher label ITEM_ID {topic} yes|no)"]
    return [
        f"labelled items: {len(labels)}; the draft fixes {len(fixed)}, breaks {len(broken)}, "
        f"{still_wrong} still wrong",
        *(["fixes:", *fixed] if fixed else []),
        *(["breaks:", *broken] if broken else []),
    ]
