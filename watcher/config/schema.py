"""The configuration's shape: pydantic models, frozen, that refuse unknown keys.

Field checks live in ``watcher.config.fields``; what involves more than one value in
``watcher.config.checks``; reading the file and the checks owned by other modules
(channels, selectors, queries, cron) in ``watcher.config.load``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from watcher import PROJECT_URL, __version__
from watcher.config.fields import (
    ChannelUrl,
    CountryCode,
    CronExpression,
    CssSelector,
    Duration,
    EmailAddress,
    FeedUrl,
    Name,
    RegexPattern,
    TemplateText,
    TimeZoneName,
    WebUrl,
)

DEFAULT_USER_AGENT = f"watcher/{__version__} (+{PROJECT_URL})"
DEFAULT_SUBJECT = "{{ digest.title }} — {{ total }} new{% if topics %}: {{ topics }}{% endif %}"


class _Frozen(BaseModel):
    # defer_build: a model's validator is made on its first use, not at import.
    # Validating a Config builds the one schema it needs, nested models inside it,
    # where building each model's own validator at import cost every command
    # ~15-20 ms, for models most never validate alone (issue #18).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


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
    # (see watcher.poll.cpu). "auto": one per CPU, at most 4; 1: all in the polling
    # process. feedparser and matching hold the GIL, so only processes use a second
    # core; on 2 cores they make a cold 2,000-feed poll ~1.7x faster for ~180 MB more
    # memory (README, Performance).
    processes: int | Literal["auto"] = "auto"
    per_host_concurrency: int = Field(default=2, ge=1)
    per_host_delay: Duration = timedelta(seconds=1)
    # Honour robots.txt for listing pages, watched pages and full-text article fetches.
    robots: bool = True
    # Poll each feed about twice per its observed posting gap, within these bounds.
    adaptive: bool = False
    min_interval: Duration = timedelta(minutes=5)
    max_interval: Duration = timedelta(hours=6)
    max_backoff: Duration = timedelta(hours=24)

    @field_validator("processes", mode="before")
    @classmethod
    def _processes_in_range(cls, value: object) -> object:
        # One message for both forms, not one per member of the union.
        if value == "auto" or (type(value) is int and 1 <= value <= 64):
            return value
        raise ValueError("must be auto or a whole number from 1 to 64")


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


class ListConfig(_Frozen):
    """A named list for ``@name`` in queries (issue #20): untagged ``terms`` and terms
    ``tagged`` by country code; it extends a shipped list of the same name unless
    ``replace`` is true. A plain YAML list is the same as ``terms:``."""

    terms: tuple[str, ...] = ()
    tagged: dict[CountryCode, tuple[str, ...]] = {}
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

    @field_validator("token")
    @classmethod
    def _token_not_empty(cls, token: SecretStr | None) -> SecretStr | None:
        # An empty variable in an EnvironmentFile must not turn authentication off (#16).
        if token is not None and not token.get_secret_value().strip():
            raise ValueError(
                "is empty, which would turn authentication off; set a token or, to serve "
                "only this machine without one, remove the key"
            )
        return token

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
