"""The command line: exit codes, one-line errors, and the commands over a small stored set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import shared_dir
from watcher import __version__
from watcher.cli import cli
from watcher.clock import utc_now
from watcher.config import load_config
from watcher.models import Hit, Item, TopicMatch
from watcher.store import MatchedItem, SourceUpdate, Store

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
database: sqlite:///{tmp}/watcher.db
outbox: {tmp}/outbox
feeds:
  - {{name: wire, url: "http://127.0.0.1:9/wire.xml", title: Northwind Wire, allow_private: true}}
topics:
  - {{name: leader-travel, title: Leader travel, query: "(premier OR president) AND visit*"}}
  - {{name: parade-coverage, title: Parade coverage, query: "parade AND (tanks OR troops)"}}
digests:
  - {{name: morning, recipients: [desk@example.org], topics: [leader-travel],
      schedule: "0 7 * * *"}}
"""


def run(*args: str, config: Path | None = None) -> Result:
    prefix = ["--config", str(config)] if config else []
    return CliRunner().invoke(cli, [*prefix, *args])


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(CONFIG.format(tmp=tmp_path), encoding="utf-8")
    return path


@pytest.fixture
def stored(config_path: Path) -> Path:
    config = load_config(config_path)
    with Store.open(config.database) as store:
        store.upgrade()
        store.sync_sources(config.feeds, utc_now())
        items = [
            ("visit", "Premier arrives for a state visit", "leader-travel", "visit"),
            ("tanks", "Tanks and troops rehearse the parade", "parade-coverage", "parade"),
            ("weather", "Rain expected over the weekend", None, None),
        ]
        new = []
        for key, title, topic, term in items:
            span = (title.index(term), title.index(term) + len(term)) if term else None
            item = Item(
                feed="wire",
                key=key,
                url=f"https://n.example/{key}",
                title=title,
                summary="",
                content_hash=key,
            )
            matches = (
                (
                    TopicMatch(
                        topic, 0.5, (Hit("title", span[0], span[1], title[span[0] : span[1]]),)
                    ),
                )
                if topic and span
                else ()
            )
            new.append(MatchedItem(item, matches))
        store.record_poll(
            SourceUpdate(
                name="wire", polled_at=utc_now(), result="new_items", next_poll_at=utc_now()
            ),
            new=new,
        )
    return config_path


def test_version_and_help() -> None:
    assert run("--version").output.strip() == f"watcher, version {__version__}"
    for command in (["poll"], ["items"], ["digest", "preview"], ["topics", "test"], ["eval"]):
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_check_reports_every_problem_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - {name: a, url: 'ftp://x'}\ntopics:\n  - {name: t, query: '(a'}\n")
    result = run("check", config=bad)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{bad}:2:")
    assert any(f"{bad}:4:" in line and "unbalanced parenthesis" in line for line in lines)
    assert "Traceback" not in result.output


def test_check_ok_and_missing_file(config_path: Path, tmp_path: Path) -> None:
    ok = run("check", config=config_path)
    assert ok.exit_code == 0 and ": ok — 1 feeds, 2 topics, 1 digests" in ok.output
    missing = run("check", config=tmp_path / "nope.yaml")
    assert missing.exit_code == 2
    assert (
        missing.stderr.strip()
        == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"
    )


def test_unusable_databases_are_one_line_and_exit_2(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    config = tmp_path / "feeds.yaml"
    for database, expected in [
        (f"sqlite:///{locked}/sub/watcher.db", "cannot create database folder"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot connect"),
    ]:
        config.write_text(f"database: {database}\n", encoding="utf-8")
        result = run("db", "upgrade", config=config)
        if os.geteuid() == 0 and "sqlite" in database:
            continue  # root may write anywhere; the PostgreSQL case still runs
        assert result.exit_code == 2, result.output
        assert expected in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_an_unmigrated_database_is_a_clear_runtime_error(config_path: Path) -> None:
    result = run("items", config=config_path)
    assert result.exit_code == 1
    assert "watcher db upgrade" in result.stderr


def test_items_filters_and_json(stored: Path) -> None:
    table = run("items", config=stored)
    assert table.exit_code == 0
    assert "Premier arrives" in table.output and "leader-travel" in table.output
    only = json.loads(
        run("items", "--topic", "parade-coverage", "--format", "json", config=stored).stdout
    )
    assert [i["title"] for i in only] == ["Tanks and troops rehearse the parade"]
    assert only[0]["matches"][0]["hits"][0] == {
        "field": "title",
        "start": 30,
        "end": 36,
        "term": "parade",
    }
    recent = json.loads(run("items", "--since", "1h", "--format", "json", config=stored).stdout)
    assert len(recent) == 3
    assert run("items", "--since", "soon", config=stored).exit_code == 2
    assert run("items", "--topic", "nope", config=stored).exit_code == 2


def test_topics_explain_and_backtest(stored: Path) -> None:
    items = json.loads(run("items", "--format", "json", config=stored).stdout)
    visit_id = next(i["id"] for i in items if i["title"].startswith("Premier"))
    explained = run("topics", "explain", "leader-travel", str(visit_id), config=stored)
    assert explained.exit_code == 0, explained.output
    assert "Premier arrives" in explained.output
    backtest = run("topics", "test", "leader-travel", "--query", "rain OR premier", config=stored)
    assert backtest.exit_code == 0, backtest.output
    assert "2 of 3 items match" in backtest.output
    assert "newly matching: 1" in backtest.output
    assert "no longer matching: 0" in backtest.output
    bad = run("topics", "test", "leader-travel", "--query", "(rain", config=stored)
    assert bad.exit_code == 2 and "unbalanced parenthesis" in bad.stderr


def test_status_lists_feeds_topics_and_digests(stored: Path) -> None:
    result = run("status", config=stored)
    assert result.exit_code == 0, result.output
    assert "wire" in result.output and "leader-travel" in result.output
    assert "morning" in result.output


@pytest.mark.slow
def test_eval_prints_precision_recall_f1() -> None:
    dev = shared_dir("eval") / "topics-dev.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(REPO / "feeds.yaml"), "eval", str(dev)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    # Rows: topic, label column, precision, recall, F1, tp, fp, fn.
    f1 = {
        fields[0]: float(fields[4])
        for fields in (line.split() for line in result.stdout.splitlines())
        if len(fields) == 8 and fields[0] in ("leader-travel", "parade-coverage")
    }
    assert f1["leader-travel"] >= 0.90
    assert f1["parade-coverage"] >= 0.90


def test_check_warns_when_a_password_would_go_without_tls(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "smtp: {host: mail.example.org, username: u, password: '${SMTP_PASSWORD}'}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--config", str(config), "check"], env={"SMTP_PASSWORD": "hunter2-secret"}
    )
    assert result.exit_code == 0, result.output
    assert "password would be sent without TLS" in result.stderr
    assert "hunter2-secret" not in result.output
