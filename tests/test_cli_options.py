"""Global options before or after the subcommand; paths read from the config's folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from watcher.cli import cli, hoist_global_options

CONFIG = """\
# The desk's configuration: relative paths live beside this file.
database: sqlite:///state/watcher.db
outbox: mail
feeds:
  - name: wire   # the wire
    url: http://127.0.0.1:9/wire.xml
    allow_private: true
"""


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    folder = tmp_path / "desk"
    folder.mkdir()
    (folder / "feeds.yaml").write_text(CONFIG, encoding="utf-8")
    return folder / "feeds.yaml"


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{c}", "check"],
        ["check", "--config", "{c}"],
        ["check", "--config={c}", "--log-level", "debug"],
        ["--log-level", "warning", "check", "--config", "{c}", "--log-format", "json"],
    ],
)
def test_global_options_before_or_after_the_subcommand(desk: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, [a.format(c=desk) for a in args])
    assert result.exit_code == 0, result.output
    assert "ok — 1 feeds" in result.output


def test_global_options_after_a_nested_subcommand(
    desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["db", "upgrade", "--config", str(desk)])
    assert result.exit_code == 0, result.output
    assert (desk.parent / "state" / "watcher.db").exists()


def test_hoisting_stops_at_double_dash_and_keeps_other_options() -> None:
    assert hoist_global_options(["items", "--format", "json", "--config", "f.yaml"]) == [
        "--config",
        "f.yaml",
        "items",
        "--format",
        "json",
    ]
    assert hoist_global_options(["x", "--", "--config", "y"]) == ["x", "--", "--config", "y"]


def test_status_from_another_folder_opens_the_configs_database(
    desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(desk.parent)
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output

    monkeypatch.chdir(elsewhere)
    status = CliRunner().invoke(cli, ["status", "--config", str(desk)])

    assert status.exit_code == 0, status.output
    assert "db upgrade" not in status.output
    assert list(elsewhere.iterdir()) == []  # no second, empty database here
