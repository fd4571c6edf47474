"""The errors watcher raises, as one small tree.

    WatcherError
     ├── ConfigError            feeds.yaml unreadable or invalid (exit status 2)
     ├── QueryError(ValueError) a topic query does not parse (carries the column)
     │    └── TopicQueryError   ...naming the topic and field (match/index.py)
     ├── StoreError             the database failed or is unreachable
     │    └── SchemaError       the database schema is missing or too old
     ├── FetchError             a feed could not be fetched (kind says why)
     │    ├── BlockedAddressError  a refused address (sources/netguard.py)
     │    └── PostError         a webhook POST got no whole reply (sources/post.py)
     ├── ParseError             fetched bytes are not a feed we can read
     │    └── WorkerLostError   a worker process parsing them died (poll/cpu.py)
     ├── OpmlError(ValueError)  an OPML file is malformed, too large or declares entities
     ├── RenderError            a digest template failed to render
     ├── DeliveryError          a digest could not be handed to a transport
     │    └── TemporaryDeliveryError  worth retrying later (4xx, refused connection)
     ├── DaemonLockError        another daemon already runs on this SQLite database
     ├── CeleryMissingError     executor: celery without the celery extra installed
     └── DemoError              `watcher demo` did not run through

Third-party errors are wrapped at the boundary of the one module that talks to
that library (``raise StoreError(...) from exc``), so callers catch ours only.
"""

from __future__ import annotations


class WatcherError(Exception):
    """Root of every error watcher raises on purpose."""


class ConfigError(WatcherError):
    """The configuration is unreadable or invalid.

    ``problems`` holds one line per problem, each naming ``file:line:column: path``.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class QueryError(WatcherError, ValueError):
    """A topic query is malformed; ``column`` is 1-based within the query text."""

    def __init__(self, message: str, column: int) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} at column {column}")


class StoreError(WatcherError):
    """The database could not be opened, read or written."""


class SchemaError(StoreError):
    """The database schema is missing or older than this version of watcher."""


class FetchError(WatcherError):
    """A fetch failed; ``kind`` is a short machine-readable reason."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class PostError(FetchError):
    """An outbound POST (a webhook) got no whole reply: ``kind`` is timeout, connect or failed."""


class ParseError(WatcherError):
    """Fetched bytes could not be read as a feed."""


class WorkerLostError(ParseError):
    """A worker process died while parsing or matching for a poll; its pool was replaced."""


class OpmlError(WatcherError, ValueError):
    """An OPML document is malformed, too large, or declares a DOCTYPE or entities."""


class RenderError(WatcherError):
    """A digest template failed to render."""


class DeliveryError(WatcherError):
    """A digest could not be delivered and retrying will not help."""


class TemporaryDeliveryError(DeliveryError):
    """A digest could not be delivered now; retrying later may succeed."""


class DaemonLockError(WatcherError):
    """Another daemon already runs on this database."""


class CeleryMissingError(WatcherError):
    """``executor: celery`` without the ``celery`` extra installed."""


class DemoError(WatcherError):
    """The demo did not run through: a sample feed failed or no digest was written."""
