"""What every `watcher` command shares: the loaded configuration, the store, exits.

Exit status: 0 success; 1 a runtime failure (a source or digest could not be
processed, the database failed mid-run); 2 bad usage or configuration
(including a database that cannot be opened).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from watcher.config import Config, DigestConfig, TopicConfig, load_config, parse_duration
from watcher.exceptions import ConfigError, StoreError

if TYPE_CHECKING:
    # For annotations only: the store loads SQLAlchemy, which `watcher --version`
    # and `watcher check` do not need.
    from watcher.store import Store

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
def opened_store(config: Config, *, upgrade: bool = False) -> Iterator[Store]:
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


pass_context = click.make_pass_decorator(Context)


def duration_option(option: str, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        fail(f"{option}: {exc}", EXIT_USAGE)


# -- digests ---------------------------------------------------------------------


def digest_named(config: Config, name: str) -> DigestConfig:
    try:
        return config.digest(name)
    except KeyError:
        fail(f"no digest named {name!r} in {config.source}", EXIT_USAGE)


# -- topics --------------------------------------------------------------------------


def topic_named(config: Config, name: str) -> TopicConfig:
    try:
        return config.topic(name)
    except KeyError:
        fail(f"no topic named {name!r} in {config.source}", EXIT_USAGE)


def redacted_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported elsewhere; never echo a password here
        return "<database>"
