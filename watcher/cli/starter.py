"""`watcher init [DIR]`: a commented starter feeds.yaml, the first step of the first hour."""

from __future__ import annotations

import sys
from pathlib import Path

import click

STARTER_CONFIG = """\
# watcher configuration, written by `watcher init`. `watcher check` validates it;
# every key is described in README.md. Relative paths below are read from this
# file's folder, wherever you run watcher from.

database: sqlite:///var/watcher.db   # or postgresql+psycopg://user@host/db
outbox: var/outbox                   # digests land here as .eml + .html until smtp: is set

defaults:
  interval: 15m                      # how often each source is polled

# Add sources with `watcher feeds add URL` (a feed, or a site or article page
# that advertises one); `watcher feeds list`, `remove`, `pause` and `resume`
# manage them. They are written here, keeping these comments.
feeds: []

topics:
  # A topic is a query: words (AND is implied), OR, NOT, parentheses and
  # "quoted phrases". Write a query with a phrase inside single quotes, or as a
  # block (query: >-), so YAML keeps the double quotes the query needs.
  - name: my-topic
    title: My topic
    query: '"climate change" OR flood* OR drought'
    exclude: '"sponsored content"'

digests:
  # `watcher digest preview daily --format text` shows the next one without sending.
  - name: daily
    title: Daily digest
    recipients: [you@example.org]
    topics: [my-topic]
    schedule: "0 7 * * *"            # cron: every day at 07:00
    timezone: UTC

# smtp:                              # until this is set, digests go to the outbox
#   host: smtp.example.org
#   port: 587
#   security: starttls
#   username: watcher@example.org
#   password: ${SMTP_PASSWORD}
#   sender: watcher@example.org
"""


@click.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."), required=False
)
def init(directory: Path) -> None:
    """Write a commented starter feeds.yaml into DIRECTORY (default: here)."""
    path = directory / "feeds.yaml"
    if path.exists():
        click.echo(f"watcher: {path} already exists; not overwriting it", err=True)
        sys.exit(2)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER_CONFIG, encoding="utf-8")
    config = "" if directory == Path(".") else f" --config {path}"
    click.echo(
        f"wrote {path}. Next:\n"
        f"  watcher{config} feeds add https://example.org/   # a site, page or feed\n"
        f"  watcher{config} poll --once\n"
        f"  watcher{config} digest preview daily --format text\n"
        f"  watcher{config} run                               # the daemon"
    )
