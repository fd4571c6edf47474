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
whole document is ``top level``. Values that came from the environment,
``smtp.password`` and ``http.token`` are never shown in a message.

fields   field types and their checks (durations, names, addresses, URLs, patterns)
schema   the pydantic models, from ``Config`` down
checks   what involves more than one value; the keys the schema allows
load     reading the file; the checks owned by other modules; ``config_warnings``
"""

from __future__ import annotations

from watcher.config.fields import parse_duration, standard_weekdays
from watcher.config.load import (
    MAX_CONFIG_BYTES,
    config_warnings,
    load_config,
    load_config_text,
    with_paths_resolved,
)
from watcher.config.schema import (
    DEFAULT_SUBJECT,
    DEFAULT_USER_AGENT,
    WATCH_TOPIC_PREFIX,
    Config,
    DaemonConfig,
    Defaults,
    DigestConfig,
    FeedConfig,
    HealthConfig,
    HttpConfig,
    ListConfig,
    PageConfig,
    RetentionConfig,
    SmtpConfig,
    Source,
    TopicConfig,
    WatchConfig,
)

__all__ = [
    "DEFAULT_SUBJECT",
    "DEFAULT_USER_AGENT",
    "MAX_CONFIG_BYTES",
    "WATCH_TOPIC_PREFIX",
    "Config",
    "DaemonConfig",
    "Defaults",
    "DigestConfig",
    "FeedConfig",
    "HealthConfig",
    "HttpConfig",
    "ListConfig",
    "PageConfig",
    "RetentionConfig",
    "SmtpConfig",
    "Source",
    "TopicConfig",
    "WatchConfig",
    "config_warnings",
    "load_config",
    "load_config_text",
    "parse_duration",
    "standard_weekdays",
    "with_paths_resolved",
]
