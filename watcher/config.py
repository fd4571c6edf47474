"""feeds.yaml -> validated, immutable configuration.

Everything downstream reads these objects; nothing else reads YAML or the
environment. ``load_config`` reads the file, replaces ``${NAME}`` and
``${NAME:-default}`` in string values from the environment (``$${`` is a literal
``${``) and validates everything, raising ``ConfigError`` with every problem at
once, one line each: ``FILE:LINE:COLUMN: PATH: MESSAGE``.

LINE:COLUMN (1-based) point at the offending value, at the key for an unknown or
duplicate key, and at the mapping itself for a missing key. PATH names the value
from the top: ``smtp.port``, ``digests.daily.recipients[1]``. An entry of
``feeds``, ``topics`` or ``digests`` is named ``SECTION.NAME`` when it has a valid
name written in the file that no earlier entry of the section uses, else
``SECTION[INDEX]`` (0-based). Problems with the file as a whole read
``FILE: MESSAGE``, broken YAML ``FILE:LINE:COLUMN: invalid YAML: MESSAGE``, and the
whole document is ``top level``. Values that came from the environment and
``smtp.password`` are never shown in a message.
"""

from __future__ import annotations

import importlib
import os
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from watcher import PROJECT_URL, __version__
from watcher._yamlmarks import (
    Loc,
    LocatedProblem,
    MarkedDocument,
    Position,
    describe_yaml_error,
    did_you_mean,
    load_marked_yaml,
)
from watcher.exceptions import ConfigError, QueryError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# A deliberately plain address check (RFC 5322 dot-atom local part, dotted DNS domain,
# or the local host): enough to catch typos and header injection without a dependency.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
    r"@(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}|localhost)"
)


def parse_duration(value: object) -> timedelta:
    """'30s', '15m', '1h', '1d', '2w' or a number of seconds (also as text) -> timedelta.

    Raises ValueError for anything else, and for durations that are not positive or
    do not fit in a timedelta.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use 30s, 15m, 1h, 1d)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        found = _DURATION.match(str(value))
        if not found:
            raise ValueError(f"{value!r} is not a duration (use 30s, 15m, 1h, 1d)")
        seconds = float(found.group(1)) * _UNIT_SECONDS[found.group(2) or "s"]
    if not seconds > 0:  # also refuses NaN
        raise ValueError(f"{value!r} is not a positive duration")
    if seconds >= timedelta.max.total_seconds():
        raise ValueError(f"{value!r} is too long a duration")
    return timedelta(seconds=seconds)


def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid name (up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit)"
        )
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address (use name@example.org)")
    return value


def _check_time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{value!r} is not a time zone (use an IANA name like Europe/Berlin)"
        ) from None
    return value


_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def standard_weekdays(expression: str) -> str:
    """Rewrite a crontab's numeric weekdays (0 or 7 = Sunday, 1 = Monday) as names.

    APScheduler 3 reads weekday numbers with 0 = Monday (its issue 286), so
    ``0 7 * * 1-5`` would run Tuesday to Saturday; names mean the same to both.
    """
    fields = expression.split()
    if len(fields) != 5:
        return expression
    return " ".join([*fields[:4], re.sub(r"(?<![/\w])([0-7])(?!\w)", _weekday_name, fields[4])])


def _weekday_name(found: re.Match[str]) -> str:
    return _CRON_WEEKDAYS[int(found.group(1))]


def _check_crontab(value: str) -> str:
    # Valid means valid for the scheduler, so ask APScheduler itself; whether a cron
    # expression parses does not depend on the zone it is read in.
    from apscheduler.triggers.cron import CronTrigger

    value = standard_weekdays(value)
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        detail = str(exc)
        raise ValueError(
            f"{value!r} is not a cron schedule (minute hour day month weekday): "
            f"{detail[:1].lower()}{detail[1:]}"
        ) from None
    return value


def _check_template(value: str) -> str:
    import jinja2

    try:
        jinja2.Environment().parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"not a valid Jinja2 template: {exc.message}") from None
    return value


def _check_feed_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if any(character.isspace() for character in value):
        raise ValueError(f"{value!r} is not a URL: it contains white space")
    if parts.scheme.lower() not in ("http", "https", "file"):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    if parts.scheme.lower() != "file" and not parts.hostname:
        raise ValueError(f"{value!r} is not a URL: it has no host")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Name = Annotated[str, AfterValidator(_check_name)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
CronExpression = Annotated[str, AfterValidator(_check_crontab)]


def _check_channel(value: str) -> str:
    from watcher.exceptions import DeliveryError
    from watcher.outputs.channels import make_channel, redact_url

    try:
        make_channel(value)
    except DeliveryError as exc:
        raise ValueError(f"{redact_url(value)!r}: {exc}") from None
    return value


ChannelUrl = Annotated[str, AfterValidator(_check_channel)]
TemplateText = Annotated[str, AfterValidator(_check_template)]
FeedUrl = Annotated[str, AfterValidator(_check_feed_url)]


def _check_web_url(value: str) -> str:
    if urlsplit(value).scheme.lower() not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


def _check_selector(value: str) -> str:
    from watcher.sources.pages import validate_selector

    validate_selector(value)
    return value


def _check_pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    return value


WebUrl = Annotated[str, AfterValidator(_check_web_url)]
CssSelector = Annotated[str, AfterValidator(_check_selector)]
RegexPattern = Annotated[str, AfterValidator(_check_pattern)]

DEFAULT_USER_AGENT = f"watcher/{__version__} (+{PROJECT_URL})"
DEFAULT_SUBJECT = "{{ digest.title }} — {{ total }} new{% if topics %}: {{ topics }}{% endif %}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Defaults(_Frozen):
    """Settings every feed inherits unless it says otherwise."""

    interval: Duration = timedelta(minutes=15)
    timeout: Duration = timedelta(seconds=30)
    connect_timeout: Duration = timedelta(seconds=10)
    user_agent: str = DEFAULT_USER_AGENT
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    workers: int = Field(default=16, ge=1, le=256)
    # Worker processes for parsing and matching when many sources are polled at once
    # (see watcher.poll.cpu); 1 (the default): all in the polling process. Opt-in until
    # bench figures show the pool ahead on small machines (see README, Performance).
    processes: int = Field(default=1, ge=1, le=64)
    per_host_concurrency: int = Field(default=2, ge=1)
    per_host_delay: Duration = timedelta(seconds=1)
    # Honour robots.txt for listing pages, watched pages and full-text article fetches.
    robots: bool = True
    # Poll each feed about twice per its observed posting gap, within these bounds.
    adaptive: bool = False
    min_interval: Duration = timedelta(minutes=5)
    max_interval: Duration = timedelta(hours=6)
    max_backoff: Duration = timedelta(hours=24)


class FeedConfig(_Frozen):
    name: Name
    url: FeedUrl
    title: str | None = None
    interval: Duration | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    # file:// URLs are refused unless the operator says this feed may read local files.
    allow_local_files: bool = False
    # Loopback, private and link-local addresses are refused unless the operator says
    # this feed lives there (an intranet feed, a test server).
    allow_private: bool = False
    # Fetch each new item's link and match on the article, for feeds that carry teasers.
    full_text: bool = False
    # Adapt the interval to how often the feed posts (defaults.adaptive when unset).
    adaptive: bool | None = None


class PageConfig(_Frozen):
    """A listing page (a section front) whose article links become items."""

    name: Name
    url: WebUrl
    title: str | None = None
    # Picks the article links (or elements that contain them) on the page.
    link_selector: CssSelector
    interval: Duration | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    allow_private: bool = False
    # Articles fetched per poll at most; the rest of a big batch waits for the next poll.
    max_new_links: int = Field(default=20, ge=1, le=500)


class WatchConfig(_Frozen):
    """A page whose text (or the part a selector picks) is watched for changes."""

    name: Name
    url: WebUrl
    title: str | None = None
    selector: CssSelector | None = None
    # Regular expressions for text that changes without news (counters, timestamps).
    ignore: tuple[RegexPattern, ...] = ()
    # Also ignore dates, times and "updated N minutes ago" (watcher.sources.watches defaults).
    ignore_defaults: bool = True
    interval: Duration | None = None
    enabled: bool = True
    allow_private: bool = False

    @property
    def topic(self) -> str:
        """The pseudo-topic a change of this page is matched to (see DigestConfig.watches)."""
        return WATCH_TOPIC_PREFIX + self.name


# Changes of watched pages are stored as matches of this pseudo-topic per watch.
WATCH_TOPIC_PREFIX = "watch."


# Anything polled: a feed, a listing page, a watched page.
Source = FeedConfig | PageConfig | WatchConfig


def _check_country_code(value: str) -> str:
    if re.fullmatch(r"[A-Z]{2}", value) is None:
        raise ValueError(f"{value!r} is not a two-letter ISO 3166 country code (like FR)")
    return value


class ListConfig(_Frozen):
    """A named list for ``@name`` in queries (issue #20): untagged ``terms`` and terms
    ``tagged`` by country code; it extends a shipped list of the same name unless
    ``replace`` is true. A plain YAML list is the same as ``terms:``."""

    terms: tuple[str, ...] = ()
    tagged: dict[Annotated[str, AfterValidator(_check_country_code)], tuple[str, ...]] = {}
    replace: bool = False

    @model_validator(mode="before")
    @classmethod
    def _plain_list(cls, value: object) -> object:
        return {"terms": value} if isinstance(value, list) else value


class TopicConfig(_Frozen):
    name: Name
    title: str | None = None
    description: str = ""
    query: str
    exclude: str | None = None
    feeds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_score: float = 0.0
    stemming: bool = False

    @property
    def display_title(self) -> str:
        return self.title or self.name.replace("-", " ").capitalize()


class DigestConfig(_Frozen):
    name: Name
    title: str | None = None
    recipients: tuple[EmailAddress, ...] = ()
    # Apprise URLs (ntfy://…, tgram://…) or webhook+https://… (see watcher.outputs.channels).
    channels: tuple[ChannelUrl, ...] = ()
    topics: tuple[str, ...] = ()
    # Page watches whose changes this digest carries.
    watches: tuple[str, ...] = ()
    # Five-field cron as crontab(5) reads it (weekday 0 or 7 = Sunday); stored with
    # weekday names so APScheduler 3, whose 0 is Monday, reads it the same way.
    schedule: CronExpression | None = None
    timezone: TimeZoneName = "UTC"
    immediate: bool = False
    subject: TemplateText = DEFAULT_SUBJECT
    max_items: int = Field(default=50, ge=1)
    min_score: float = 0.0
    send_empty: bool = False

    @property
    def display_title(self) -> str:
        return self.title or self.name.replace("-", " ").capitalize()

    def with_watch_topics(self) -> DigestConfig:
        """This digest with its watches' pseudo-topics among its topics: what it claims."""
        if not self.watches:
            return self
        watch_topics = tuple(WATCH_TOPIC_PREFIX + name for name in self.watches)
        return self.model_copy(update={"topics": self.topics + watch_topics})


class SmtpConfig(_Frozen):
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    sender: EmailAddress = "watcher@localhost"
    timeout: Duration = timedelta(seconds=30)


class HttpConfig(_Frozen):
    """The daemon's HTTP endpoint (/healthz, /metrics); off unless the section exists."""

    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    # Required for any bind beyond loopback: the endpoint is not meant to be public.
    token: SecretStr | None = None
    # Where readers reach the dashboard (e.g. behind a proxy); when set, digest emails
    # carry "relevant / not relevant" links to it, signed with a key derived from the token.
    public_url: str | None = None

    @model_validator(mode="after")
    def _token_for_public_bind(self) -> HttpConfig:
        if self.host not in ("127.0.0.1", "localhost", "::1") and self.token is None:
            raise ValueError(
                f"binding {self.host!r} beyond this machine needs a 'token' (clients send "
                "it as 'Authorization: Bearer TOKEN')"
            )
        return self

    @model_validator(mode="after")
    def _public_url_is_http_with_token(self) -> HttpConfig:
        if self.public_url is None:
            return self
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                f"public_url {self.public_url!r} must be an http(s) URL without a query"
            )
        if self.token is None:
            raise ValueError("public_url needs a 'token': the feedback links are signed with it")
        return self


class HealthConfig(_Frozen):
    """When operators hear about broken sources (see watcher.outputs.health)."""

    # One notice when a source has failed for this long; one more when it recovers.
    failing_after: Duration = timedelta(hours=24)
    # A Monday list of sources that produced nothing for ``quiet_after``.
    weekly_summary: bool = False
    quiet_after: Duration = timedelta(days=14)
    # /healthz fails (and `watcher status` says why) when a digest or alert has waited
    # this long to be delivered.
    delivery_late_after: Duration = timedelta(minutes=15)


class DaemonConfig(_Frozen):
    """How the daemon runs its jobs (the defaults suit every deployment but tests)."""

    # How often due sources are handed out, and how often the delivery loop looks for
    # immediate alerts and due retries when no poll woke it.
    dispatch_interval: Duration = timedelta(seconds=5)
    # How long a stop waits for polls in flight.
    shutdown_wait: Duration = timedelta(seconds=30)


class RetentionConfig(_Frozen):
    """How long stored items are kept, counted from when they were fetched."""

    unmatched: Duration = timedelta(days=30)
    matched: Duration = timedelta(days=365)


class Config(_Frozen):
    """The whole validated configuration.

    ``load_config`` also checks what no single model can: unique names, references
    between sections, a schedule or ``immediate`` per digest, file:// URLs, topic queries.
    """

    database: str = "sqlite:///var/watcher.db"
    outbox: str = "var/outbox"
    templates: str | None = None
    defaults: Defaults = Defaults()
    feeds: tuple[FeedConfig, ...] = ()
    pages: tuple[PageConfig, ...] = ()
    watches: tuple[WatchConfig, ...] = ()
    topics: tuple[TopicConfig, ...] = ()
    # Named lists for @name in topic queries (watcher.knowledge).
    lists: dict[Name, ListConfig] = {}
    digests: tuple[DigestConfig, ...] = ()
    smtp: SmtpConfig | None = None
    http: HttpConfig | None = None
    retention: RetentionConfig = RetentionConfig()
    daemon: DaemonConfig = DaemonConfig()
    # Who hears about sources that break, move or go quiet (never about matches).
    operators: tuple[EmailAddress, ...] = ()
    health: HealthConfig = HealthConfig()
    # Where polls run: this process's thread pool, or Celery workers on a broker.
    executor: Literal["local", "celery"] = "local"
    broker: str | None = None
    # Where the config came from, for messages; not a YAML key.
    source: str = Field(default="<memory>", exclude=True)

    def feed(self, name: str) -> FeedConfig:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise KeyError(name)

    @property
    def sources(self) -> tuple[Source, ...]:
        """Everything polled: feeds, listing pages and watched pages (names are unique)."""
        return (*self.feeds, *self.pages, *self.watches)

    def source_named(self, name: str) -> Source:
        for found in self.sources:
            if found.name == name:
                return found
        raise KeyError(name)

    def watch(self, name: str) -> WatchConfig:
        for watch in self.watches:
            if watch.name == name:
                return watch
        raise KeyError(name)

    def topic(self, name: str) -> TopicConfig:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(name)

    def section_titles(self) -> dict[str, str]:
        """The heading of each digest section: a topic's title, or for a watch's changes
        (stored under its ``watch.NAME`` topic) "Changes on" the watch's title."""
        titles = {topic.name: topic.display_title for topic in self.topics}
        for watch in self.watches:
            titles[watch.topic] = f"Changes on {watch.title or watch.name}"
        return titles

    def digest(self, name: str) -> DigestConfig:
        for digest in self.digests:
            if digest.name == name:
                return digest
        raise KeyError(name)

    def feed_interval(self, feed: FeedConfig) -> timedelta:
        """How often to poll ``feed``: its own interval, else the default one."""
        return feed.interval if feed.interval is not None else self.defaults.interval


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
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from exc
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
        problems.extend(document.validation_problems(exc.errors(), _known_keys))
    problems.extend(_cross_problems(data, document))
    # A value whose variable is unset is only reported as such, not judged as empty text.
    problems = [*document.judged(problems), *document.problems]
    if problems or config is None:
        names = _entry_names(data, document)
        ordered = sorted(problems, key=lambda problem: problem.position)
        raise ConfigError([document.describe(source, each, names, _SECRETS) for each in ordered])
    return config


def _known_keys(loc: Loc) -> list[str]:
    """The keys allowed in the mapping at ``loc``."""
    models: dict[Loc, type[BaseModel]] = {
        (): Config,
        ("defaults",): Defaults,
        ("smtp",): SmtpConfig,
        ("feeds", 0): FeedConfig,
        ("topics", 0): TopicConfig,
        ("digests", 0): DigestConfig,
    }
    entry = len(loc) == 2 and isinstance(loc[1], int)
    model = models.get((loc[0], 0) if entry else loc)
    return [key for key in model.model_fields if key != "source"] if model else []


_SECTIONS = {
    "feeds": "feed",
    "pages": "page",
    "watches": "watch",
    "topics": "topic",
    "digests": "digest",
}
_SECRETS = {("smtp", "password")}  # never shown, wherever they come from
_FLAG = TypeAdapter(bool)


def _flag(value: object) -> bool | None:
    """The bool validation would make of ``value``, or None if it would refuse it."""
    try:
        return _FLAG.validate_python(value)
    except ValidationError:
        return None


def _entries(data: dict[str, object], section: str) -> list[tuple[int, dict[str, object]]]:
    entries = data.get(section)
    if not isinstance(entries, list):
        return []
    return [(index, entry) for index, entry in enumerate(entries) if isinstance(entry, dict)]


def _texts(value: object) -> list[tuple[int, str]]:
    items = value if isinstance(value, list) else []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, str)]


def _query_parser() -> Callable[..., object] | None:
    # Imported late so that configs load before watcher.match exists (and without it).
    try:
        module = importlib.import_module("watcher.match.query")
    except ModuleNotFoundError as exc:
        if exc.name in ("watcher.match", "watcher.match.query"):
            return None
        raise
    parse_query: Callable[..., object] = module.parse_query
    return parse_query


def _query_lists(raw: object) -> Mapping[str, object] | None:
    """The named lists queries may use: shipped ones with the valid part of ``lists:``.

    An invalid ``lists:`` entry is reported by field validation; here it is left out.
    """
    knowledge = importlib.import_module("watcher.knowledge")
    configured: dict[str, ListConfig] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            try:
                configured[str(name)] = ListConfig.model_validate(value)
            except ValidationError:
                continue
    resolved: Mapping[str, object] = knowledge.resolve_lists(configured)
    return resolved


def _cross_problems(data: dict[str, object], document: MarkedDocument) -> list[LocatedProblem]:
    """Problems that involve more than one value: names, references, exclusive options.

    Works on the raw values, type-checking each it uses, so it runs even when field
    validation failed; a value of the wrong type is reported by validation instead.
    """
    problems: list[LocatedProblem] = []

    def add(loc: Loc, message: str) -> None:
        problems.append(LocatedProblem(document.position(loc), loc, message))

    names: dict[str, set[str]] = {}
    for section, kind in _SECTIONS.items():
        first_lines: dict[str, int] = {}
        for index, entry in _entries(data, section):
            name, loc = entry.get("name"), (section, index, "name")
            if isinstance(name, str) and name in first_lines:
                add(loc, f"duplicate {kind} name {name!r} (first used on line {first_lines[name]})")
            elif isinstance(name, str):
                first_lines[name] = document.position(loc).line
        names[section] = set(first_lines)
    # Feeds, pages and watches are all sources, polled and stored under their name.
    first_source: dict[str, tuple[str, int]] = {}
    for section in ("feeds", "pages", "watches"):
        for index, entry in _entries(data, section):
            name, loc = entry.get("name"), (section, index, "name")
            if not isinstance(name, str):
                continue
            earlier = first_source.setdefault(name, (section, document.position(loc).line))
            if earlier[0] != section:
                add(
                    loc,
                    f"the name {name!r} is already used by a {_SECTIONS[earlier[0]]} "
                    f"(line {earlier[1]})",
                )
    names["sources"] = set(first_source)
    for index, topic in _entries(data, "topics"):
        name = topic.get("name")
        if isinstance(name, str) and name.startswith(WATCH_TOPIC_PREFIX):
            add(("topics", index, "name"), f"topic names may not start with {WATCH_TOPIC_PREFIX!r}")

    feed_tags: set[str] = set()
    for _index, page in _entries(data, "pages"):
        feed_tags.update(tag for _, tag in _texts(page.get("tags")))
    for index, feed in _entries(data, "feeds"):
        feed_tags.update(tag for _, tag in _texts(feed.get("tags")))
        url = feed.get("url")
        local = isinstance(url, str) and url.lower().startswith("file:")
        if local and _flag(feed.get("allow_local_files", False)) is False:
            add(("feeds", index, "url"), "file:// URLs need 'allow_local_files: true' on the feed")

    parse_query = _query_parser()
    query_lists = _query_lists(data.get("lists")) if parse_query is not None else None
    for index, topic in _entries(data, "topics"):
        for position, feed_name in _texts(topic.get("feeds")):
            if feed_name not in names["sources"]:
                hint = did_you_mean(feed_name, names["sources"])
                add(("topics", index, "feeds", position), f"no feed named {feed_name!r}{hint}")
        for position, tag in _texts(topic.get("tags")):
            if tag not in feed_tags:
                hint = did_you_mean(tag, feed_tags)
                add(("topics", index, "tags", position), f"no feed has the tag {tag!r}{hint}")
        stemming = _flag(topic.get("stemming", False)) is True
        for key in ("query", "exclude"):
            query = topic.get(key)
            if parse_query is not None and isinstance(query, str):
                try:
                    parse_query(query, stemming=stemming, lists=query_lists)
                except QueryError as exc:
                    add(("topics", index, key), f"{exc.message} at column {exc.column}")

    for index, digest in _entries(data, "digests"):
        for position, topic_name in _texts(digest.get("topics")):
            if topic_name not in names["topics"]:
                hint = did_you_mean(topic_name, names["topics"])
                add(("digests", index, "topics", position), f"no topic named {topic_name!r}{hint}")
        scheduled = digest.get("schedule") is not None
        immediate = _flag(digest.get("immediate", False))
        if scheduled and immediate:
            add(("digests", index, "immediate"), "set a schedule or 'immediate: true', not both")
        elif not scheduled and immediate is False:
            add(("digests", index), "needs a 'schedule' (cron: '0 7 * * *') or 'immediate: true'")
        if not digest.get("recipients") and not digest.get("channels"):
            add(("digests", index), "needs 'recipients' (email addresses) or 'channels'")
        for position, watch_name in _texts(digest.get("watches")):
            if watch_name not in names["watches"]:
                hint = did_you_mean(watch_name, names["watches"])
                add(("digests", index, "watches", position), f"no watch named {watch_name!r}{hint}")
        if not digest.get("topics") and not digest.get("watches"):
            add(("digests", index), "needs 'topics' or 'watches' to report on")
    if data.get("executor") == "celery":
        database = data.get("database")
        if not isinstance(database, str) or not database.startswith("postgresql"):
            add(("executor",), "'celery' needs a PostgreSQL 'database' that every worker reaches")
        if not isinstance(data.get("broker"), str):
            add(("executor",), "'celery' needs a 'broker' URL (e.g. redis://127.0.0.1:6379/0)")
    return problems


def _entry_names(data: dict[str, object], document: MarkedDocument) -> dict[Loc, str]:
    """``(section, index)`` -> name, for entries whose PATH uses the name (see module doc)."""
    names: dict[Loc, str] = {}
    for section in _SECTIONS:
        seen: set[str] = set()
        for index, entry in _entries(data, section):
            name = entry.get("name")
            written = (section, index, "name") not in document.from_environment
            if not isinstance(name, str):
                continue
            if name not in seen and _NAME.fullmatch(name) and written:
                names[(section, index)] = name
            seen.add(name)
    return names
