"""Tests for watcher/config/: loading feeds.yaml and reporting what is wrong with it."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from watcher._yamlmarks import Loc
from watcher.config import (
    Config,
    DigestConfig,
    FeedConfig,
    SmtpConfig,
    TopicConfig,
    load_config,
    load_config_text,
    parse_duration,
)
from watcher.config.checks import known_keys
from watcher.exceptions import ConfigError, QueryError
from watcher.poll.cpu import AUTO_PROCESSES_MAX, worker_processes

DATA = Path(__file__).parent / "data" / "config"
EMPTY = "feeds.yaml: is empty; see feeds.yaml in the repository for an example"


def problems_in(text: str, environ: dict[str, str] | None = None) -> list[str]:
    """The problems reported for ``text`` (dedented) loaded as feeds.yaml."""
    with pytest.raises(ConfigError) as caught:
        load_config_text(textwrap.dedent(text), "feeds.yaml", environ=environ or {})
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


# (id, feeds.yaml text, the exact problems reported, in order)
BROKEN: list[tuple[str, str, list[str]]] = [
    (
        "yaml-syntax",
        """\
        feeds:
          - name: harbour
            url: https://example.org/harbour.rss
           title: Harbour
        """,
        [
            "feeds.yaml:4:4: invalid YAML: this line is indented by 3 spaces, which lines up"
            " with nothing in the block that starts on line 2 (its keys are indented by 4);"
            " indent it like the keys it belongs with [YAML: expected <block end>, but found"
            " '<block mapping start>' (while parsing a block collection on line 2)]"
        ],
    ),
    (
        "wrong-types",
        """\
        defaults:
          workers: several
          max_body_bytes: 1.5
        feeds:
          - name: harbour
            url: https://example.org/harbour.rss
            enabled: sometimes
            tags: shipping
        """,
        [
            "feeds.yaml:2:12: defaults.workers: expected a whole number",
            "feeds.yaml:3:19: defaults.max_body_bytes: expected a whole number",
            "feeds.yaml:7:14: feeds.harbour.enabled: expected true or false",
            "feeds.yaml:8:11: feeds.harbour.tags: expected a list",
        ],
    ),
    (
        "unquoted-number-as-text",
        """\
        feeds:
          - name: 2024
            url: https://example.org/2024.rss
        """,
        ["feeds.yaml:2:11: feeds[0].name: expected text (put the value in quotes)"],
    ),
    (
        "unknown-key-top-level",
        """\
        databse: sqlite:///var/watcher.db
        outbox: var/outbox
        """,
        ["feeds.yaml:1:1: top level: unknown key 'databse' (did you mean 'database'?)"],
    ),
    (
        "unknown-key-nested",
        """\
        feeds:
          - name: harbour
            url: https://example.org/harbour.rss
            intervall: 1h
        smtp:
          host: mail.example.org
          tls: true
        """,
        [
            "feeds.yaml:4:5: feeds.harbour: unknown key 'intervall' (did you mean 'interval'?)",
            "feeds.yaml:7:3: smtp: unknown key 'tls'",
        ],
    ),
    (
        "source-is-not-a-key",
        """\
        source: elsewhere.yaml
        """,
        ["feeds.yaml:1:1: top level: unknown key 'source'"],
    ),
    (
        "missing-required-key",
        """\
        feeds:
          - name: harbour
            title: Harbour without an address
        """,
        ["feeds.yaml:2:5: feeds.harbour: missing required key 'url'"],
    ),
    (
        "duplicate-yaml-key",
        """\
        feeds:
          - name: harbour
            url: https://example.org/harbour.rss
            url: https://example.org/harbour.atom
        """,
        ["feeds.yaml:4:5: feeds.harbour: duplicate key 'url'"],
    ),
    (
        "bad-durations",
        """\
        defaults:
          timeout: 0s
        feeds:
          - name: harbour
            url: https://example.org/harbour.rss
            interval: 15 minutes
        """,
        [
            "feeds.yaml:2:12: defaults.timeout: '0s' is not a positive duration",
            "feeds.yaml:6:15: feeds.harbour.interval: "
            "'15 minutes' is not a duration (use 30s, 15m, 1h, 1d)",
        ],
    ),
    (
        "bad-name",
        """\
        feeds:
          - name: harbour news
            url: https://example.org/harbour.rss
        """,
        [
            "feeds.yaml:2:11: feeds[0].name: 'harbour news' is not a valid name (up to 64 letters, "
            "digits, '.', '_' or '-', starting with a letter or digit)"
        ],
    ),
    (
        "bad-url-scheme",
        """\
        feeds:
          - name: harbour
            url: ftp://example.org/harbour.rss
          - name: quay
            url: https:///quay.rss
        """,
        [
            "feeds.yaml:3:10: feeds.harbour.url: "
            "'ftp://example.org/harbour.rss' is not an http:// or https:// URL",
            "feeds.yaml:5:10: feeds.quay.url: 'https:///quay.rss' is not a URL: it has no host",
        ],
    ),
    (
        "file-url-without-allow-local-files",
        """\
        feeds:
          - name: archive
            url: file:///srv/feeds/archive.xml
          - name: allowed
            url: file:///srv/feeds/allowed.xml
            allow_local_files: true
        """,
        [
            "feeds.yaml:3:10: feeds.archive.url: "
            "file:// URLs need 'allow_local_files: true' on the feed"
        ],
    ),
    (
        "duplicate-names",
        """\
        feeds:
          - name: harbour
            url: https://example.org/harbour.rss
          - name: harbour
            url: https://example.org/harbour.atom
        topics:
          - name: dredging
            query: dredging
          - name: dredging
            query: silt
        """,
        [
            "feeds.yaml:4:11: feeds[1].name: duplicate feed name 'harbour' (first used on line 2)",
            "feeds.yaml:9:11: topics[1].name: duplicate topic name 'dredging' "
            "(first used on line 7)",
        ],
    ),
    (
        "topic-scope-names-nothing",
        """\
        feeds:
          - name: harbour
            url: https://example.org/harbour.rss
            tags: [shipping]
        topics:
          - name: dredging
            query: dredging
            feeds: [harbor]
            tags: [ships, weather]
        """,
        [
            "feeds.yaml:8:13: topics.dredging.feeds[0]: no feed named 'harbor' "
            "(did you mean 'harbour'?)",
            "feeds.yaml:9:12: topics.dredging.tags[0]: no feed has the tag 'ships' "
            "(did you mean 'shipping'?)",
            "feeds.yaml:9:19: topics.dredging.tags[1]: no feed has the tag 'weather'",
        ],
    ),
    (
        "dangling-topic-in-digest",
        """\
        topics:
          - name: dredging
            query: dredging
        digests:
          - name: morning
            recipients: [desk@example.org]
            topics: [dredging, tides]
            schedule: 0 7 * * *
        """,
        ["feeds.yaml:7:24: digests.morning.topics[1]: no topic named 'tides'"],
    ),
    (
        "schedule-and-immediate",
        """\
        topics:
          - name: dredging
            query: dredging
        digests:
          - name: morning
            recipients: [desk@example.org]
            topics: [dredging]
            schedule: 0 7 * * *
            immediate: true
        """,
        [
            "feeds.yaml:9:16: digests.morning.immediate: "
            "set a schedule or 'immediate: true', not both"
        ],
    ),
    (
        "neither-schedule-nor-immediate",
        """\
        topics:
          - name: dredging
            query: dredging
        digests:
          - name: morning
            recipients: [desk@example.org]
            topics: [dredging]
            immediate: false
        """,
        [
            "feeds.yaml:5:5: digests.morning: "
            "needs a 'schedule' (cron: '0 7 * * *') or 'immediate: true'"
        ],
    ),
    (
        "bad-cron",
        """\
        topics:
          - name: dredging
            query: dredging
        digests:
          - name: morning
            recipients: [desk@example.org]
            topics: [dredging]
            schedule: 0 25 * * *
          - name: evening
            recipients: [desk@example.org]
            topics: [dredging]
            schedule: "0 19 * *"
        """,
        [
            "feeds.yaml:8:15: digests.morning.schedule: '0 25 * * *' is not a cron schedule "
            "(minute hour day month weekday): error validating expression '25': "
            "the last value (25) is higher than the maximum value (23)",
            "feeds.yaml:12:15: digests.evening.schedule: '0 19 * *' is not a cron schedule "
            "(minute hour day month weekday): wrong number of fields; got 4, expected 5",
        ],
    ),
    (
        "bad-timezone",
        """\
        topics:
          - name: dredging
            query: dredging
        digests:
          - name: morning
            recipients: [desk@example.org]
            topics: [dredging]
            schedule: 0 7 * * *
            timezone: Europe/Atlantis
        """,
        [
            "feeds.yaml:9:15: digests.morning.timezone: "
            "'Europe/Atlantis' is not a time zone (use an IANA name like Europe/Berlin)"
        ],
    ),
    (
        "bad-recipients",
        """\
        topics:
          - name: dredging
            query: dredging
        digests:
          - name: morning
            recipients:
              - desk@example.org
              - desk at example.org
              - "desk@example.org, boss@example.org"
            topics: [dredging]
            schedule: 0 7 * * *
          - name: evening
            recipients: []
            topics: [dredging]
            schedule: 0 19 * * *
        """,
        [
            "feeds.yaml:8:9: digests.morning.recipients[1]: "
            "'desk at example.org' is not an email address (use name@example.org)",
            "feeds.yaml:9:9: digests.morning.recipients[2]: "
            "'desk@example.org, boss@example.org' is not an email address (use name@example.org)",
            "feeds.yaml:12:5: digests.evening: needs 'recipients' (email addresses) or 'channels'",
        ],
    ),
    (
        "bad-subject-template",
        """\
        topics:
          - name: dredging
            query: dredging
        digests:
          - name: morning
            recipients: [desk@example.org]
            topics: [dredging]
            schedule: 0 7 * * *
            subject: "{{ total } new items"
        """,
        ["feeds.yaml:9:14: digests.morning.subject: not a valid Jinja2 template: unexpected '}'"],
    ),
    (
        "bad-smtp",
        """\
        smtp:
          host: mail.example.org
          port: 70000
          security: ssl
          sender: watcher
        """,
        [
            "feeds.yaml:3:9: smtp.port: must be at most 65535",
            "feeds.yaml:4:13: smtp.security: must be 'none', 'starttls' or 'tls'",
            "feeds.yaml:5:11: smtp.sender: "
            "'watcher' is not an email address (use name@example.org)",
        ],
    ),
    (
        "top-level-not-a-mapping",
        """\
        - name: harbour
          url: https://example.org/harbour.rss
        """,
        ["feeds.yaml:1:1: top level: expected a mapping of settings (key: value)"],
    ),
    (
        "section-of-the-wrong-shape",
        """\
        feeds:
          harbour: https://example.org/harbour.rss
        smtp: mail.example.org
        """,
        [
            "feeds.yaml:2:3: feeds: expected a list",
            "feeds.yaml:3:7: smtp: expected a mapping (key: value)",
        ],
    ),
    (
        "missing-environment-variable",
        """\
        smtp:
          host: ${SMTP_HOST:-mail.example.org}
          username: watcher
          password: ${SMTP_PASSWORD}
          port: ${SMTP_PORT}
        """,
        [
            "feeds.yaml:4:13: smtp.password: environment variable SMTP_PASSWORD is not set",
            "feeds.yaml:5:9: smtp.port: environment variable SMTP_PORT is not set",
        ],
    ),
    (
        "malformed-reference",
        """\
        smtp:
          host: mail.example.org
          password: ${SMTP_PASSWORD
        """,
        [
            "feeds.yaml:3:13: smtp.password: "
            "malformed '${' (write ${NAME} or ${NAME:-default}; '$${' for a '${')"
        ],
    ),
    (
        "many-problems-at-once",
        """\
        databse: sqlite:///var/watcher.db
        feeds:
          - name: harbour
            url: https://example.org/harbour.rss
            interval: often
          - url: gopher://example.org/quay
        topics:
          - name: dredging
            query: dredging
            min_score: high
        digests:
          - name: morning
            recipients: [desk]
            topics: [dredging, tides]
        """,
        [
            "feeds.yaml:1:1: top level: unknown key 'databse' (did you mean 'database'?)",
            "feeds.yaml:5:15: feeds.harbour.interval: "
            "'often' is not a duration (use 30s, 15m, 1h, 1d)",
            "feeds.yaml:6:5: feeds[1]: missing required key 'name'",
            "feeds.yaml:6:10: feeds[1].url: "
            "'gopher://example.org/quay' is not an http:// or https:// URL",
            "feeds.yaml:10:16: topics.dredging.min_score: expected a number",
            "feeds.yaml:12:5: digests.morning: "
            "needs a 'schedule' (cron: '0 7 * * *') or 'immediate: true'",
            "feeds.yaml:13:18: digests.morning.recipients[0]: "
            "'desk' is not an email address (use name@example.org)",
            "feeds.yaml:14:24: digests.morning.topics[1]: no topic named 'tides'",
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_broken_config_reports_each_problem_at_its_place(text: str, expected: list[str]) -> None:
    assert problems_in(text) == expected


def test_values_from_the_environment_are_never_shown() -> None:
    environ = {
        "SMTP_PASSWORD": "s3cret-pass",
        "SMTP_PORT": "s3cret-port",
        "SMTP_TIMEOUT": "s3cret-timeout",
        "SMTP_SENDER": "s3cret-sender",
    }
    text = """\
        smtp:
          host: mail.example.org
          port: ${SMTP_PORT}
          password:
            - ${SMTP_PASSWORD}
          timeout: ${SMTP_TIMEOUT}
          sender: ${SMTP_SENDER}
        """
    problems = problems_in(text, environ)
    assert problems == [
        "feeds.yaml:3:9: smtp.port: expected a whole number",
        "feeds.yaml:5:5: smtp.password: expected text",
        "feeds.yaml:6:12: smtp.timeout: (hidden value) is not a duration (use 30s, 15m, 1h, 1d)",
        "feeds.yaml:7:11: smtp.sender: (hidden value) is not an email address "
        "(use name@example.org)",
    ]
    assert "s3cret" not in "\n".join(problems)


def test_a_password_written_in_the_file_is_not_shown_either() -> None:
    problems = problems_in(
        """\
        smtp:
          host: mail.example.org
          password: 123456
        """
    )
    assert problems == ["feeds.yaml:3:13: smtp.password: expected text (put the value in quotes)"]
    assert "123456" not in problems[0]


@pytest.mark.parametrize("text", ["", "\n  \n", "# nothing here yet\n", "---\n"])
def test_an_empty_file_is_an_error(text: str) -> None:
    assert problems_in(text) == [EMPTY]


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(absent, environ={})
    assert caught.value.problems == [f"{absent}: cannot read: No such file or directory"]


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    latin1 = tmp_path / "feeds.yaml"
    latin1.write_bytes("outbox: var/bo\xeete\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(latin1, environ={})
    assert caught.value.problems == [f"{latin1}: cannot read: not UTF-8 text (byte 14)"]


def test_a_query_that_does_not_parse_is_reported_at_the_query() -> None:
    query = pytest.importorskip("watcher.match.query")
    broken_query, broken_exclude = '"state visit', "(protest OR"
    expected = []
    places = [(6, 12, "query", broken_query), (7, 14, "exclude", broken_exclude)]
    for line, column, key, text in places:
        with pytest.raises(QueryError) as caught:
            query.parse_query(text)
        expected.append(
            f"feeds.yaml:{line}:{column}: topics.leader-travel.{key}: "
            f"{caught.value.message} at column {caught.value.column}"
        )
    text = f"""\
        feeds:
          - name: wire
            url: https://example.org/wire.rss
        topics:
          - name: leader-travel
            query: '{broken_query}'
            exclude: {broken_exclude}
        """
    assert problems_in(text) == expected


def test_a_full_config_loads_into_the_right_objects() -> None:
    config = load_config(DATA / "full.yaml", environ={"WATCHER_TEST_SMTP_PASSWORD": "pw"})

    assert config.source == str(DATA / "full.yaml")
    # Relative paths are read from the config file's folder, not the working directory.
    assert config.database == f"sqlite:///{DATA.resolve() / 'var/test-watcher.db'}"
    assert (config.outbox, config.templates) == (
        str(DATA.resolve() / "var/test-outbox"),
        str(DATA.resolve() / "my-templates"),
    )
    assert config.defaults.interval == timedelta(minutes=20)
    assert config.defaults.timeout == timedelta(seconds=45)
    assert config.defaults.connect_timeout == timedelta(seconds=10)
    assert config.defaults.user_agent == "watcher-tests/1.0"
    assert (config.defaults.max_redirects, config.defaults.workers) == (3, 4)
    assert config.feeds == (
        FeedConfig(
            name="harbour-news",
            url="https://news.example.org/harbour.rss",
            title="Harbour News",
            interval=timedelta(hours=1),
            tags=("local", "shipping"),
        ),
        FeedConfig(
            name="council-minutes",
            url="http://council.example.net/minutes.atom",
            enabled=False,
            tags=("local",),
        ),
        FeedConfig(
            name="archive-snapshot", url="file:///srv/feeds/archive.xml", allow_local_files=True
        ),
    )
    assert config.topics == (
        TopicConfig(
            name="ferry-timetable",
            title="Ferry timetable changes",
            query='"ferry timetable" OR "ferry schedule"',
            exclude="cancelled",
            feeds=("harbour-news",),
            min_score=0.5,
        ),
        TopicConfig(
            name="local-budget", query="budget AND council", tags=("local",), stemming=True
        ),
    )
    assert config.digests == (
        DigestConfig(
            name="morning",
            title="Morning briefing",
            recipients=("editor@example.org", "desk@news.example.org"),
            topics=("ferry-timetable", "local-budget"),
            schedule="30 6 * * mon-fri",
            timezone="Europe/Oslo",
            max_items=20,
        ),
        DigestConfig(
            name="alerts",
            recipients=("oncall@example.org",),
            topics=("ferry-timetable",),
            immediate=True,
            subject="Alert: {{ total }} new",
        ),
    )
    assert config.smtp is not None
    assert config.smtp.password is not None
    assert config.smtp.password.get_secret_value() == "pw"
    assert config.smtp == SmtpConfig(
        host="mail.example.org",
        port=587,
        security="starttls",
        username="watcher",
        password=config.smtp.password,
        sender="watcher@example.org",
        timeout=timedelta(minutes=1),
    )
    assert config.digest("alerts").display_title == "Alerts"
    assert config.feed("harbour-news").interval == timedelta(hours=1)
    assert config.feed("council-minutes").interval is None  # defaults.interval applies
    assert config.defaults.interval == timedelta(minutes=20)


def test_a_minimal_config_takes_the_defaults() -> None:
    config = load_config_text("outbox: var/mail\n", environ={})
    assert config == Config(outbox="var/mail", source="<string>")
    assert config.database == "sqlite:///var/watcher.db"


@pytest.mark.parametrize("written", ["auto", 1, 3, 64])
def test_worker_processes_are_auto_or_a_count(written: object) -> None:
    config = load_config_text(f"defaults:\n  processes: {written}\n", environ={})
    assert config.defaults.processes == written
    assert Config(source="<string>").defaults.processes == "auto"


@pytest.mark.parametrize("written", ["0", "65", "two", "true", "2.5"])
def test_worker_processes_out_of_range_are_one_plain_error(written: str) -> None:
    assert problems_in(f"defaults:\n  processes: {written}\n") == [
        "feeds.yaml:2:14: defaults.processes: must be auto or a whole number from 1 to 64"
    ]


def test_auto_worker_processes_are_one_per_cpu_up_to_four() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert worker_processes("auto") == min(cpus, AUTO_PROCESSES_MAX)
    assert worker_processes(64) == cpus
    assert worker_processes(1) == 1


def test_environment_values_are_interpolated_in_any_string() -> None:
    text = """\
        database: postgresql+psycopg://watcher:${DB_PASSWORD}@${DB_HOST:-localhost}/news
        outbox: ${OUTBOX:-var/outbox}
        feeds:
          - name: wire
            url: https://example.org/${FEED_PATH}?key=${EMPTY_KEY}
            title: "Costs $$5 and shows $${LITERAL}"
            interval: ${POLL_SECONDS}
        smtp:
          host: mail.example.org
          port: ${SMTP_PORT}
          password: ${SMTP_PASSWORD}
        """
    environ = {
        "DB_PASSWORD": "pw",
        "FEED_PATH": "wire.rss",
        "EMPTY_KEY": "",
        "OUTBOX": "",  # set but empty: ":-" uses the default, as in the shell
        "POLL_SECONDS": "90",
        "SMTP_PORT": "2525",
        "SMTP_PASSWORD": "p@ss ${NOT_EXPANDED_AGAIN}",
    }
    config = load_config_text(textwrap.dedent(text), environ=environ)
    assert config.database == "postgresql+psycopg://watcher:pw@localhost/news"
    assert config.outbox == "var/outbox"
    assert config.feeds[0].url == "https://example.org/wire.rss?key="
    assert config.feeds[0].title == "Costs $$5 and shows ${LITERAL}"
    assert config.feeds[0].interval == timedelta(seconds=90)
    assert config.smtp is not None
    assert config.smtp.port == 2525
    assert config.smtp.password is not None
    assert config.smtp.password.get_secret_value() == "p@ss ${NOT_EXPANDED_AGAIN}"


def test_anchors_and_merge_keys_share_settings() -> None:
    text = """\
        topics:
          - name: dredging
            query: dredging
        digests:
          - &weekday
            name: morning
            recipients: [desk@example.org]
            topics: [dredging]
            schedule: 0 7 * * mon-fri
            timezone: Europe/Dublin
          - <<: *weekday
            name: evening
            schedule: 0 19 * * mon-fri
        """
    config = load_config_text(textwrap.dedent(text), environ={})
    evening = config.digest("evening")
    assert (evening.schedule, evening.timezone) == ("0 19 * * mon-fri", "Europe/Dublin")
    assert evening.recipients == config.digest("morning").recipients


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
        (" 10 m ", timedelta(minutes=10)),
        ("45", timedelta(seconds=45)),
        (90, timedelta(seconds=90)),
        (0.5, timedelta(milliseconds=500)),
    ],
)
def test_durations_parse(written: object, expected: timedelta) -> None:
    assert parse_duration(written) == expected


@pytest.mark.parametrize("written", ["15 minutes", "1y", "-5m", "", "m", True, None, [1]])
def test_durations_that_are_not_durations_are_refused(written: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(written)


@pytest.mark.parametrize("written", [0, "0s", -3, float("nan")])
def test_durations_must_be_positive(written: object) -> None:
    with pytest.raises(ValueError, match="is not a positive duration"):
        parse_duration(written)


@pytest.mark.parametrize("written", [10**20, "999999999w", float("inf")])
def test_durations_must_fit_in_a_timedelta(written: object) -> None:
    with pytest.raises(ValueError, match="is too long a duration"):
        parse_duration(written)


def test_durations_in_yaml_accept_numbers_and_units() -> None:
    text = """\
        defaults:
          interval: 2w
          timeout: 30
          connect_timeout: 2.5
          per_host_delay: 1d
        """
    defaults = load_config_text(textwrap.dedent(text), environ={}).defaults
    assert defaults.interval == timedelta(weeks=2)
    assert defaults.timeout == timedelta(seconds=30)
    assert defaults.connect_timeout == timedelta(seconds=2.5)
    assert defaults.per_host_delay == timedelta(days=1)


def test_watcher_config_names_the_file_unless_a_path_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = tmp_path / "named.yaml"
    named.write_text("outbox: from-the-environment\n")
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("outbox: from-the-argument\n")
    (tmp_path / "feeds.yaml").write_text("outbox: from-the-current-directory\n")
    monkeypatch.chdir(tmp_path)

    from_environment = load_config(environ={"WATCHER_CONFIG": str(named)})
    assert from_environment.outbox == str(tmp_path.resolve() / "from-the-environment")
    assert from_environment.source == str(named)
    from_argument = load_config(str(explicit), environ={"WATCHER_CONFIG": str(named)})
    assert from_argument.outbox == str(tmp_path.resolve() / "from-the-argument")
    from_directory = load_config(environ={})
    assert from_directory.outbox == str(tmp_path.resolve() / "from-the-current-directory")
    assert from_directory.source == "feeds.yaml"


def test_relative_paths_are_read_from_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "desk"
    folder.mkdir()
    (folder / "feeds.yaml").write_text(
        "# the desk's watcher\ndatabase: sqlite:///state/w.db\noutbox: mail\ntemplates: tpl\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(folder / "feeds.yaml", environ={})

    assert config.database == f"sqlite:///{folder.resolve() / 'state/w.db'}"
    assert config.outbox == str(folder.resolve() / "mail")
    assert config.templates == str(folder.resolve() / "tpl")
    absolute = folder / "abs.yaml"
    absolute.write_text(f"database: sqlite:///{tmp_path}/a.db\noutbox: {tmp_path}/out\n")
    kept = load_config(absolute, environ={})
    assert (kept.database, kept.outbox) == (f"sqlite:///{tmp_path}/a.db", f"{tmp_path}/out")
    in_memory = folder / "memory.yaml"
    in_memory.write_text("database: 'sqlite://'\n")
    assert load_config(in_memory, environ={}).database == "sqlite://"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("feeds:\n  - name: a\n     url: http://x/\n", "indented further than the key above"),
        ("feeds:\n\t- name: a\n", "a tab character: YAML indents with spaces only"),
        (
            "topics:\n  - name: a\n    query: x\n  exclude: y\n",
            "4:3: invalid YAML: this line is indented by 2 spaces",
        ),
    ],
)
def test_indentation_errors_say_what_is_wrong_in_plain_words(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config_text(text, "feeds.yaml", environ={})
    assert words in str(raised.value)


# (section, YAML with one misspelt key in it, the problem reported)
MISSPELT_KEYS = [
    (
        "pages",
        """\
        pages:
          - name: quay
            url: https://example.org/quay
            link_selector: article a
            max_new_link: 5
        """,
        "feeds.yaml:5:5: pages.quay: unknown key 'max_new_link' (did you mean 'max_new_links'?)",
    ),
    (
        "http",
        """\
        http:
          port: 8787
          tokn: s3cret
        """,
        "feeds.yaml:3:3: http: unknown key 'tokn' (did you mean 'token'?)",
    ),
    (
        "watches",
        """\
        watches:
          - name: tides
            url: https://example.org/tides
            ignor_defaults: false
        """,
        "feeds.yaml:4:5: watches.tides: unknown key 'ignor_defaults' "
        "(did you mean 'ignore_defaults'?)",
    ),
    (
        "digests",
        """\
        topics:
          - {name: dredging, query: dredging}
        digests:
          - name: morning
            recipients: [desk@example.org]
            topics: [dredging]
            immediate: true
            max_itmes: 10
        """,
        "feeds.yaml:8:5: digests.morning: unknown key 'max_itmes' (did you mean 'max_items'?)",
    ),
    (
        "smtp",
        """\
        smtp:
          host: mail.example.org
          securty: starttls
        """,
        "feeds.yaml:3:3: smtp: unknown key 'securty' (did you mean 'security'?)",
    ),
    (
        "defaults",
        """\
        defaults:
          per_host_concurency: 4
        """,
        "feeds.yaml:2:3: defaults: unknown key 'per_host_concurency' "
        "(did you mean 'per_host_concurrency'?)",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in MISSPELT_KEYS],
    ids=[case[0] for case in MISSPELT_KEYS],
)
def test_a_misspelt_key_gets_a_did_you_mean_in_every_section(text: str, expected: str) -> None:
    assert problems_in(text) == [expected]


def _models_in(model: type[BaseModel], loc: tuple[str | int, ...]) -> Iterator[tuple[Loc, type]]:
    """Every model reachable from ``model`` with the loc of one mapping of it."""
    yield loc, model
    for name, field in model.model_fields.items():
        annotation, inner = field.annotation, (*loc, name)
        for _ in range(3):  # through "| None", tuple[X, ...] and dict[str, X]
            args = [arg for arg in get_args(annotation) if arg not in (type(None), Ellipsis)]
            if get_origin(annotation) is tuple:
                inner = (*inner, 0)
            elif get_origin(annotation) is dict:
                inner = (*inner, "name")
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from _models_in(annotation, inner)
                break
            annotation = args[-1] if args else None


def test_the_keys_offered_are_read_from_the_schema_for_every_model() -> None:
    found = dict(_models_in(Config, ()))
    assert {model.__name__ for model in found.values()} >= {
        "Defaults", "FeedConfig", "PageConfig", "WatchConfig", "TopicConfig", "ListConfig",
        "DigestConfig", "SmtpConfig", "HttpConfig", "HealthConfig", "DaemonConfig",
        "RetentionConfig",
    }  # fmt: skip
    for loc, model in found.items():
        expected = [name for name in model.model_fields if (loc, name) != ((), "source")]
        assert known_keys(loc) == expected, model.__name__
