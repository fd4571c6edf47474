"""Digests and feeds out: `watcher digest preview|send`, `export-feed`, `demo`, `discover`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from watcher.cli.context import (
    EXIT_RUNTIME,
    Context,
    digest_named,
    fail,
    opened_store,
    pass_context,
    topic_named,
)
from watcher.exceptions import WatcherError


@click.group()
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
    digest_config = digest_named(config, name)
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
        import webbrowser  # only for --open; every other command would pay its import

        webbrowser.open(path.resolve().as_uri())


@digest.command("send")
@click.argument("name")
@pass_context
def digest_send(ctx: Context, name: str) -> None:
    """Send digest NAME now: claim what is new and deliver it."""
    from watcher.pipeline import Pipeline

    config = ctx.config()
    digest_config = digest_named(config, name)
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


@click.command("export-feed")
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
        digest_named(config, name)
    else:
        topic_named(config, name)
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


@click.command()
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


@click.command()
@click.argument("url")
@click.option("--allow-private", is_flag=True, help="URL may be on a private network.")
@pass_context
def discover(ctx: Context, url: str, allow_private: bool) -> None:
    """Find the RSS/Atom/JSON feeds of a site and print feeds.yaml entries for them."""
    from watcher.cli.sources import feeds_or_fail, needs_allow_private, same_host_fetch
    from watcher.sources.discover import discovered_yaml

    config = ctx.config_or_defaults()
    fetcher, fetch = same_host_fetch(config, url, allow_private)
    with fetcher:
        lookup = feeds_or_fail(url, fetch)
    if lookup.is_feed:
        click.echo(f"{url} is a feed itself ({lookup.item_count} items)", err=True)
    private = allow_private and needs_allow_private(url)
    click.echo(f"add one with: watcher feeds add URL{' --allow-private' * private}", err=True)
    known = {source.name for source in config.sources}
    click.echo(discovered_yaml(lookup.feeds, existing_names=known, allow_private=private), nl=False)
