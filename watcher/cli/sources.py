"""`watcher init`, `watcher feeds ...` and `watcher opml ...`: sources without hand-editing YAML.

Every change goes through ``watcher.sourcesfile``: feeds.yaml is edited in place
(comments, order and formatting kept), validated, then replaced atomically.
Registered on the main group by ``register(cli)``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import click

from watcher.config import Config, parse_duration
from watcher.exceptions import ConfigError

if TYPE_CHECKING:
    from datetime import timedelta

    from watcher.sources.discover import FeedLookup
    from watcher.sources.fetch import Fetcher, FetchResult
    from watcher.sourcesfile import NewFeed, SourcesFile

EXIT_RUNTIME = 1
EXIT_USAGE = 2
# A config name (watcher.config): a letter or digit, then up to 63 of [A-Za-z0-9_.-].
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def fail(message: str, status: int) -> NoReturn:
    click.echo(f"watcher: {message}" if "\n" not in message else message, err=True)
    sys.exit(status)


def config_file(ctx: click.Context) -> Path:
    """The feeds.yaml the command edits: --config, else $WATCHER_CONFIG, else ./feeds.yaml."""
    chosen = ctx.find_root().params.get("config_path")
    return Path(chosen or os.environ.get("WATCHER_CONFIG") or "feeds.yaml")


def load_existing(path: Path) -> Config:
    """The current configuration; exit 2 with every problem when it is invalid."""
    from watcher.config import load_config

    if not path.exists():
        fail(f"{path}: no such file; `watcher init` writes a starter one", EXIT_USAGE)
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


def feeds_or_fail(url: str, fetch: Callable[[str], FetchResult]) -> FeedLookup:
    """What ``url`` offers (itself a feed, or a page's feeds); exit 1 when it is blocked
    or offers none (`watcher feeds add` and `watcher discover`)."""
    from watcher.sources.discover import look_up_feeds
    from watcher.sources.fetch import FetchFailed

    lookup = look_up_feeds(url, fetch)
    if isinstance(lookup, FetchFailed):
        fail(blocked_hint(lookup.message), EXIT_RUNTIME)
    if not lookup.feeds:
        fail(
            f"{url}: no feed found (the page advertises none, none at the usual paths)",
            EXIT_RUNTIME,
        )
    return lookup


def blocked_hint(message: str) -> str:
    """A fetch failure's message with the CLI's way out of a refused private address."""
    if ": blocked: " in message:
        return message.split(";", 1)[0] + "; pass --allow-private if it really lives there"
    return message


def same_host_fetch(
    config: Config, url: str, allow_private: bool
) -> tuple[Fetcher, Callable[[str], FetchResult]]:
    """A Fetcher context and a fetch function trusting ``url``'s host when asked to."""
    from watcher.sources.fetch import Fetcher, FetchRequest

    fetcher = Fetcher.from_defaults(config.defaults)
    trusted = urlsplit(url).hostname

    def fetch(target: str) -> FetchResult:
        # allow_private covers the host the user named, never one a page points at.
        private_ok = allow_private and urlsplit(target).hostname == trusted
        return fetcher.fetch(FetchRequest(url=target, allow_private=private_ok))

    return fetcher, fetch


def needs_allow_private(url: str) -> bool:
    """Whether ``url``'s host is loopback, private or otherwise not public (so its
    feeds.yaml entry needs ``allow_private: true``); True when it cannot be resolved."""
    import ipaddress

    from watcher.sources.netguard import blocked_class, literal_address, system_resolver

    host = urlsplit(url).hostname or ""
    address = literal_address(host)
    if address is not None:
        return blocked_class(address) is not None
    try:
        resolved = system_resolver(host, 443)
    except OSError:
        return True
    return any(blocked_class(ipaddress.ip_address(a.split("%")[0])) for a in resolved)


def _count_items(fetch: Callable[[str], FetchResult], url: str) -> int:
    """Fetch ``url`` once and parse it; exit 1 when it is not a readable feed."""
    from watcher.exceptions import ParseError
    from watcher.sources.feeds import parse_feed
    from watcher.sources.fetch import Fetched

    result = fetch(url)
    if not isinstance(result, Fetched):
        fail(blocked_hint(getattr(result, "message", f"{url}: not modified")), EXIT_RUNTIME)
    try:
        parsed = parse_feed(result.body, feed="new", url=result.url, headers=result.headers)
    except ParseError as exc:
        fail(f"{url}: {exc}", EXIT_RUNTIME)
    return len(parsed.items)


def _same_url(a: str, b: str) -> bool:
    """The same feed address, up to scheme/host case, default ports, a trailing slash
    and tracking parameters (paths are case-sensitive, so they are compared as written)."""
    from watcher.urls import clean_url

    try:
        return clean_url(a).rstrip("/") == clean_url(b).rstrip("/")
    except ValueError:
        return a == b


def _configured_with_url(config: Config, url: str) -> str | None:
    for source in config.sources:
        if _same_url(source.url, url):
            return source.name
    return None


# -- watcher feeds ---------------------------------------------------------------------


@click.group()
def feeds() -> None:
    """Add, list, remove, pause and resume sources (edits feeds.yaml in place)."""


@feeds.command("add")
@click.argument("url")
@click.option("--name", default=None, help="Name in feeds.yaml (default: from the feed's title).")
@click.option("--interval", default=None, help="Poll interval (15m, 1h); default: defaults.")
@click.option("--tag", "tags", multiple=True, help="A tag for topics to select by (repeatable).")
@click.option("--allow-private", is_flag=True, help="The feed is on this machine or a LAN.")
@click.pass_context
def feeds_add(
    ctx: click.Context,
    url: str,
    name: str | None,
    interval: str | None,
    tags: tuple[str, ...],
    allow_private: bool,
) -> None:
    """Add the feed at URL, or the feed a site or article page at URL advertises.

    The feed is fetched once to check it is one; a URL or name already configured is
    refused. feeds.yaml keeps its comments and layout.
    """
    from watcher.sources.discover import feed_name, unique_name
    from watcher.sourcesfile import NewFeed, SourcesFile

    path = config_file(ctx)
    config = load_existing(path)
    if interval is not None:
        try:
            parse_duration(interval)
        except ValueError as exc:
            fail(f"--interval: {exc}", EXIT_USAGE)
    taken = {source.name for source in config.sources}
    if name is not None and name in taken:
        fail(f"--name: {path} already has a source named {name!r}", EXIT_USAGE)
    if (existing := _configured_with_url(config, url)) is not None:
        fail(f"{url} is already configured as {existing!r} in {path}", EXIT_USAGE)

    fetcher, fetch = same_host_fetch(config, url, allow_private)
    with fetcher:
        lookup = feeds_or_fail(url, fetch)
        chosen = lookup.feeds[0]
        if not lookup.is_feed:
            if (existing := _configured_with_url(config, chosen.url)) is not None:
                fail(f"{url}: its feed {chosen.url} is already configured as {existing!r}", 2)
            click.echo(f"{url} is a page; its feed is {chosen.url}", err=True)
            for other in lookup.feeds[1:]:
                click.echo(f"  it also offers {other.url} ({other.title or 'untitled'})", err=True)
            item_count = _count_items(fetch, chosen.url)
        else:
            item_count = lookup.item_count or 0

    new_name = name or unique_name(
        feed_name(chosen.title, chosen.url), {n.casefold() for n in taken}
    )
    same_host = urlsplit(chosen.url).hostname == urlsplit(url).hostname
    private_needed = allow_private and same_host and needs_allow_private(chosen.url)
    feed = NewFeed(
        name=new_name,
        url=chosen.url,
        title=chosen.title,
        interval=interval,
        tags=tags,
        allow_private=private_needed,
    )
    try:
        edited = SourcesFile(path)
        edited.add_feed(feed)
        edited.save()
    except ConfigError as exc:
        fail(f"{path} left unchanged; the edit would make it invalid:\n{exc}", EXIT_USAGE)
    click.echo(
        f"added feed {new_name}: {chosen.url}"
        + (f" ({chosen.title})" if chosen.title else "")
        + f", {item_count} item{'s' if item_count != 1 else ''} now; "
        f"poll it with `watcher poll --once --feed {new_name}`"
    )


@feeds.command("list")
@click.pass_context
def feeds_list(ctx: click.Context) -> None:
    """List every source: name, kind, state, interval, tags and URL."""
    config = load_existing(config_file(ctx))
    kinds = (("feed", config.feeds), ("page", config.pages), ("watch", config.watches))
    click.echo(f"{'NAME':<24} {'KIND':<6} {'STATE':<7} {'INTERVAL':<9} {'TAGS':<16} URL")
    for kind, sources in kinds:
        for source in sources:
            every = source.interval or config.defaults.interval
            tags = ",".join(getattr(source, "tags", ())) or "-"
            state = "active" if source.enabled else "paused"
            click.echo(
                f"{source.name:<24} {kind:<6} {state:<7} {_duration(every):<9} {tags:<16.16} "
                f"{source.url}"
            )
    if not config.sources:
        click.echo("(no sources yet: `watcher feeds add URL`)")


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@feeds.command("remove")
@click.argument("name")
@click.pass_context
def feeds_remove(ctx: click.Context, name: str) -> None:
    """Remove the source NAME from feeds.yaml (its stored items stay in the database)."""
    from watcher.sourcesfile import SourcesFile

    path = config_file(ctx)
    load_existing(path)
    edited = SourcesFile(path)
    try:
        section = edited.remove(name)
    except KeyError:
        _no_source(path, name)
    except ConfigError as exc:
        fail(f"{path} left unchanged:\n{exc}", EXIT_USAGE)
    _save(edited, path)
    click.echo(f"removed {section[:-1] if section != 'watches' else 'watch'} {name} from {path}")


def _set_enabled(ctx: click.Context, name: str, enabled: bool) -> None:
    from watcher.sourcesfile import SourcesFile

    path = config_file(ctx)
    load_existing(path)
    edited = SourcesFile(path)
    try:
        changed = edited.set_enabled(name, enabled)
    except KeyError:
        _no_source(path, name)
    state = "active" if enabled else "paused"
    if not changed:
        click.echo(f"{name} is already {state}")
        return
    _save(edited, path)
    click.echo(f"{name} is now {state} (a running daemon picks this up on SIGHUP)")


@feeds.command("pause")
@click.argument("name")
@click.pass_context
def feeds_pause(ctx: click.Context, name: str) -> None:
    """Stop polling NAME (writes enabled: false); `resume` undoes it."""
    _set_enabled(ctx, name, False)


@feeds.command("resume")
@click.argument("name")
@click.pass_context
def feeds_resume(ctx: click.Context, name: str) -> None:
    """Poll NAME again after `pause`."""
    _set_enabled(ctx, name, True)


def _no_source(path: Path, name: str) -> NoReturn:
    from watcher._yamlmarks import did_you_mean
    from watcher.config import load_config

    names = {source.name for source in load_config(path).sources}
    fail(f"{path}: no source named {name!r}{did_you_mean(name, names)}", EXIT_USAGE)


def _add_or_fail(edited: SourcesFile, path: Path, feed: NewFeed) -> None:
    try:
        edited.add_feed(feed)
    except ConfigError as exc:
        fail(f"{path} left unchanged:\n{exc}", EXIT_USAGE)


def _save(edited: SourcesFile, path: Path) -> None:
    try:
        edited.save()
    except ConfigError as exc:
        fail(f"{path} left unchanged; the edit would make it invalid:\n{exc}", EXIT_USAGE)


# -- watcher opml ----------------------------------------------------------------------


@click.group()
def opml() -> None:
    """Import or export feeds as OPML, the format every feed reader speaks."""


@opml.command("import")
@click.argument("opml_path", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def opml_import(ctx: click.Context, opml_path: str) -> None:
    """Add the feeds of an OPML file to feeds.yaml (names and intervals as exported;
    feeds whose URL or name is already configured are skipped and listed)."""
    from watcher.exceptions import OpmlError
    from watcher.sources.discover import feed_name, slugify, unique_name
    from watcher.sources.opml import parse_opml
    from watcher.sourcesfile import NewFeed, SourcesFile

    path = config_file(ctx)
    config = load_existing(path)
    try:
        listed = parse_opml(Path(opml_path).read_bytes())
    except OpmlError as exc:
        fail(f"{opml_path}: {exc}", EXIT_USAGE)
    taken = {source.name.casefold() for source in config.sources}
    edited = SourcesFile(path)
    added: list[str] = []
    for entry in listed:
        existing = _configured_with_url(config, entry.xml_url)
        if existing is not None:
            click.echo(f"skipped {entry.xml_url}: already configured as {existing!r}")
            continue
        wanted = entry.name if entry.name and _NAME.fullmatch(entry.name) else ""
        wanted = wanted or slugify(entry.name or "") or feed_name(entry.title, entry.xml_url)
        name = unique_name(wanted, taken)
        if name != wanted and entry.name:
            click.echo(f"{entry.xml_url}: the name {wanted!r} is taken; added as {name!r}")
        taken.add(name.casefold())
        interval = entry.interval
        if interval is not None:
            try:
                parse_duration(interval)
            except ValueError:
                click.echo(f"{entry.xml_url}: interval {interval!r} ignored (not a duration)")
                interval = None
        _add_or_fail(
            edited,
            path,
            NewFeed(
                name=name,
                url=entry.xml_url,
                title=entry.title if entry.title != name else None,
                interval=interval,
                tags=entry.categories,
            ),
        )
        added.append(name)
    if added:
        _save(edited, path)
    skipped = len(listed) - len(added)
    click.echo(f"added {len(added)} feeds to {path}, skipped {skipped} already configured")


@opml.command("export")
@click.pass_context
def opml_export(ctx: click.Context) -> None:
    """Write the configured feeds as OPML (names, intervals and tags kept) to standard output."""
    from watcher.sources.opml import OpmlFeed, render_opml

    path = config_file(ctx)
    config = load_existing(path)
    listed = [
        OpmlFeed(
            title=feed.title or feed.name,
            xml_url=feed.url,
            html_url=None,
            categories=feed.tags,
            name=feed.name,
            interval=_duration(feed.interval) if feed.interval else None,
        )
        for feed in config.feeds
    ]
    sys.stdout.buffer.write(render_opml(listed, title=f"watcher feeds ({path})"))


def register(group: click.Group) -> None:
    """Add this module's commands to the `watcher` group."""
    from watcher.cli.starter import init

    group.add_command(feeds)
    group.add_command(opml)
    group.add_command(init)
