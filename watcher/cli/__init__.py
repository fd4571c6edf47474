"""The `watcher` command: a thin click shell over the pipeline.

    context     what every command shares: the configuration, the store, exit codes
    polling     poll --once, run, worker
    reading     items, topics explain|test, eval, status (format in status.py)
    publishing  digest preview|send, export-feed, demo, discover
    sources     feeds add|list|remove|pause|resume, opml, init (starter.py)
    labels      label, labels list|export

Exit status: 0 success; 1 a runtime failure (a source or digest could not be
processed, the database failed mid-run); 2 bad usage or configuration
(including a database that cannot be opened).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from pathlib import Path
from typing import NoReturn

import click

from watcher import __version__
from watcher.cli import labels, polling, publishing, reading, sources
from watcher.cli.context import Context, opened_store, pass_context, redacted_url
from watcher.config import config_warnings
from watcher.logs import configure_logging

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
    # `watcher` imports with the collector off (watcher/__main__.py): on for the command.
    gc.enable()
    configure_logging(log_level, log_format)
    ctx.obj = Context(config_path, log_level, log_format)


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
        f"{len(config.digests)} digests; database {redacted_url(config.database)}; "
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
        click.echo(f"database {redacted_url(config.database)} is up to date")


for command in (
    polling.poll,
    polling.run,
    polling.worker,
    reading.items,
    reading.topics,
    reading.eval_command,
    reading.status,
    publishing.digest,
    publishing.export_feed,
    publishing.demo,
    publishing.discover,
    labels.label_command,
    labels.labels_group,
):
    cli.add_command(command)
# `watcher init`, `watcher feeds ...`, `watcher opml ...` (watcher/cli/sources.py).
sources.register(cli)


def main() -> None:
    """Console-script entry point."""
    # Everything watcher writes (database, outbox, locks) is for its user alone.
    os.umask(0o077)
    try:
        cli(prog_name="watcher")
    except SystemExit as done:
        exit_without_teardown(done.code)
    exit_without_teardown(0)


def exit_without_teardown(code: str | int | None) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown.

    Tearing down frees every object one by one: with the topic index and the
    shipped lists loaded (hundreds of thousands of objects) that took 0.3-0.45 s
    of every `watcher poll --once`, after its work was done and its output
    written. The exit handlers still run (logging's flush, temporary files,
    multiprocessing's children, coverage's data), then the streams are flushed
    and the process ends. While a thread that is not a daemon is still running,
    or a profiler or tracer watches (``python -m cProfile`` writes its file after
    the program returns), this is a plain ``sys.exit``.
    """
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    watched = sys.getprofile() is not None or sys.gettrace() is not None
    if watched or any(thread.is_alive() and not thread.daemon for thread in others):
        sys.exit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe or stream: there is no one left to tell.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)
