"""Reading feeds.yaml: the file, ``${NAME}`` values, validation, every problem at once.

The checks that need another module's knowledge run here, and only here: channel
URLs (watcher.outputs.channels), CSS selectors (watcher.sources.pages), topic
queries (watcher.match.query with watcher.knowledge's lists) and cron schedules
(watcher.daemon.cron). The schema below this module imports none of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from watcher._yamlmarks import (
    Loc,
    LocatedProblem,
    MarkedDocument,
    Position,
    describe_yaml_error,
    load_marked_yaml,
)
from watcher.config.checks import cross_problems, entries, entry_names, flag, known_keys, texts
from watcher.config.fields import standard_weekdays
from watcher.config.schema import Config, ListConfig
from watcher.exceptions import ConfigError, QueryError

if TYPE_CHECKING:
    from watcher.knowledge import EntityList

# A feeds.yaml for 2,000 sources is about 200 KB. Past this it is not a configuration,
# and PyYAML would need minutes and gigabytes for it: 1 MiB of feeds takes ~15 s and
# ~170 MB here, 16 MiB more than 5 minutes and 1.7 GB (issue #16).
MAX_CONFIG_BYTES = 2 * 1024 * 1024
_SECRETS = {("smtp", "password"), ("http", "token")}  # never shown, wherever they come from
_TOO_LARGE = f"is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB; is it the right file?"


def config_warnings(config: Config) -> list[str]:
    """What is valid but unwise in ``config``, one line each, for `watcher check`."""
    warnings: list[str] = []
    smtp = config.smtp
    if smtp is not None and (smtp.username or smtp.password) and smtp.security == "none":
        host = smtp.host.strip("[]").lower()
        local = host in ("localhost", "::1") or host.startswith("127.")
        if not local:
            warnings.append(
                "smtp.security: the password would be sent without TLS; use starttls or tls"
            )
    warnings.extend(_private_source_warnings(config))
    return warnings


def _private_source_warnings(config: Config) -> list[str]:
    """Sources on this machine or a private network that every poll would refuse."""
    from watcher.sources.netguard import blocked_class, literal_address

    warnings: list[str] = []
    for section, sources in (
        ("feeds", config.feeds),
        ("pages", config.pages),
        ("watches", config.watches),
    ):
        for source in sources:
            host = (urlsplit(source.url).hostname or "").lower()
            if source.allow_private or not host or source.url.lower().startswith("file:"):
                continue
            address = literal_address(host)
            kind = "loopback" if host == "localhost" else address and blocked_class(address)
            if kind:
                warnings.append(
                    f"{section}.{source.name}: {host} is {kind.split(' (')[0]}, so every poll "
                    "would be refused as blocked; add 'allow_private: true' if it really "
                    "lives there"
                )
    return warnings


def load_config(
    path: Path | str | None = None, *, environ: Mapping[str, str] | None = None
) -> Config:
    """Read and validate the configuration file.

    The file is ``path``, else ``$WATCHER_CONFIG``, else ``./feeds.yaml``; ``environ``
    (default ``os.environ``) supplies that variable and the ``${NAME}`` values.
    Relative paths inside (database, outbox, templates) are resolved against the
    file's folder, so a command run from elsewhere finds the same database.

    Raises ConfigError listing every problem when the file cannot be read or is invalid.
    """
    environ = os.environ if environ is None else environ
    if path is None:
        path = environ.get("WATCHER_CONFIG") or "feeds.yaml"
    source = str(path)
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{source}: {_TOO_LARGE}"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{source}: cannot read: not UTF-8 text (byte {exc.start})"]) from exc
    config = load_config_text(text, source, environ=environ)
    return with_paths_resolved(config, Path(path).resolve().parent)


def with_paths_resolved(config: Config, folder: Path) -> Config:
    """``config`` with a relative SQLite path, ``outbox`` and ``templates`` made absolute
    under ``folder`` (the config file's): `watcher --config /x/feeds.yaml status` run
    from anywhere must open /x's database, not create an empty one where it stands."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    update: dict[str, str] = {}
    try:
        url = make_url(config.database)
    except ArgumentError:
        url = None  # reported when the store opens it, with the store's own message
    if url is not None and url.get_backend_name() == "sqlite":
        database = url.database or ":memory:"
        in_file = database != ":memory:" and not database.startswith("file:")
        if in_file and not Path(database).is_absolute():
            resolved = url.set(database=str(folder / database))
            update["database"] = resolved.render_as_string(hide_password=False)
    if not Path(config.outbox).is_absolute():
        update["outbox"] = str(folder / config.outbox)
    if config.templates is not None and not Path(config.templates).is_absolute():
        update["templates"] = str(folder / config.templates)
    return config.model_copy(update=update) if update else config


def load_config_text(
    text: str, source: str = "<string>", *, environ: Mapping[str, str] | None = None
) -> Config:
    """Validate configuration YAML given as text; ``source`` names it in messages.

    Raises ConfigError listing every problem when the text is not a valid configuration.
    """
    environ = os.environ if environ is None else environ
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{source}: {_TOO_LARGE}"])
    try:
        document = load_marked_yaml(text, environ)
    except yaml.YAMLError as exc:
        raise ConfigError([describe_yaml_error(source, text, exc)]) from exc
    data = document.data
    if data is None:
        raise ConfigError([f"{source}: is empty; see feeds.yaml in the repository for an example"])
    if not isinstance(data, dict):
        problem = LocatedProblem(Position(1, 1), (), "expected a mapping of settings (key: value)")
        raise ConfigError([document.describe(source, problem, {}, _SECRETS)])
    problems: list[LocatedProblem] = []
    if "source" in data:  # a field of Config, but set by the loader, not by the file
        del data["source"]
        problems.append(document.key_problem(("source",), "unknown key 'source'"))
    config: Config | None = None
    try:
        config = Config.model_validate({**data, "source": source})
    except ValidationError as exc:
        problems.extend(document.validation_problems(exc.errors(), known_keys))
    problems.extend(cross_problems(data, document))
    problems.extend(_owner_problems(data, document))
    # A value whose variable is unset is only reported as such, not judged as empty text.
    problems = [*document.judged(problems), *document.problems]
    if problems or config is None:
        names = entry_names(data, document)
        ordered = sorted(problems, key=lambda problem: problem.position)
        raise ConfigError([document.describe(source, each, names, _SECRETS) for each in ordered])
    return config


def _owner_problems(data: dict[str, object], document: MarkedDocument) -> list[LocatedProblem]:
    """What only the module that uses a value can judge: channel URLs, CSS selectors,
    topic queries, cron schedules. Like the cross-checks, works on the raw values."""
    # Imported here: these modules import the schema, and importing the schema runs
    # watcher.config's __init__, which imports this module; at call time all are loaded.
    from watcher.match.query import parse_query
    from watcher.outputs.channels import validate_channel_url

    problems: list[LocatedProblem] = []

    def check(loc: Loc, validate: Callable[[str], object], value: str) -> None:
        try:
            validate(value)
        except QueryError as exc:
            message = f"{exc.message} at column {exc.column}"
            problems.append(LocatedProblem(document.position(loc), loc, message))
        except ValueError as exc:
            problems.append(LocatedProblem(document.position(loc), loc, str(exc)))

    for index, digest in entries(data, "digests"):
        for position, url in texts(digest.get("channels")):
            check(("digests", index, "channels", position), validate_channel_url, url)
        schedule = digest.get("schedule")
        if isinstance(schedule, str):
            # Only for a schedule to check: it imports APScheduler, which a
            # `poll --once` of a config without one never needs (issue #18).
            from watcher.daemon.cron import validate_crontab

            check(("digests", index, "schedule"), validate_crontab, standard_weekdays(schedule))
    for section, key in (("pages", "link_selector"), ("watches", "selector")):
        for index, entry in entries(data, section):
            selector = entry.get(key)
            if isinstance(selector, str):
                # Only for a selector to check: it imports lxml and cssselect, which a
                # config of feeds alone never needs (issue #18).
                from watcher.sources.pages import validate_selector

                check((section, index, key), validate_selector, selector)
    lists = _query_lists(data.get("lists"))
    for index, topic in entries(data, "topics"):
        stemming = flag(topic.get("stemming", False)) is True
        parse = partial(parse_query, stemming=stemming, lists=lists)
        for key in ("query", "exclude"):
            query = topic.get(key)
            if isinstance(query, str):
                check(("topics", index, key), parse, query)
    return problems


def _query_lists(raw: object) -> Mapping[str, EntityList]:
    """The named lists queries may use: shipped ones with the valid part of ``lists:``.

    An invalid ``lists:`` entry is reported by field validation; here it is left out.
    """
    from watcher.knowledge import resolve_lists

    configured: dict[str, ListConfig] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            try:
                configured[str(name)] = ListConfig.model_validate(value)
            except ValidationError:
                continue
    return resolve_lists(configured)
