"""Readers' labels from the command line: label, list, export, eval --labels, and
which labelled items a draft query fixes or breaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import config_path, run, stored  # noqa: F401  (pytest fixtures)
from watcher.config import load_config
from watcher.store import Store


def item_ids(config: Path) -> dict[str, int]:
    """Stored item ids by their title's first word."""
    with Store.open(load_config(config).database) as store:
        labels = {}
        for number in range(1, 10):
            try:
                item = store.item(number).item
            except KeyError:
                continue
            labels[item.title.split()[0].lower()] = number
        return labels


def test_label_list_export_and_eval(stored: Path, tmp_path: Path) -> None:  # noqa: F811
    ids = item_ids(stored)
    assert run("label", str(ids["premier"]), "leader-travel", "yes", config=stored).exit_code == 0
    result = run("label", str(ids["rain"]), "leader-travel", "no", config=stored)
    assert result.exit_code == 0, result.output
    assert "not relevant to leader-travel" in result.output
    # Labelling again replaces the judgement.
    run("label", str(ids["tanks"]), "parade-coverage", "no", config=stored)
    run("label", str(ids["tanks"]), "parade-coverage", "yes", config=stored)

    listed = run("labels", "list", config=stored)
    assert "leader-travel: 1 relevant, 1 not relevant" in listed.output
    assert "parade-coverage: 1 relevant, 0 not relevant" in listed.output

    exported = tmp_path / "labels.jsonl"
    result = run("labels", "export", "-o", str(exported), config=stored)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    by_title = {row["title"]: row for row in rows}
    assert by_title["Premier arrives for a state visit"]["leader-travel"] is True
    assert by_title["Rain expected over the weekend"]["leader-travel"] is False
    assert "leader-travel" not in by_title["Tanks and troops rehearse the parade"]

    # The stored labels score the topics; the export reads back through `watcher eval`.
    scored = run("eval", "--labels", config=stored)
    assert scored.exit_code == 0, scored.output
    assert "3 labelled items" in scored.output
    assert "leader-travel            leader-travel     1.000  1.000  1.000   1   0   0" in (
        scored.output
    )
    one_topic = tmp_path / "travel.jsonl"
    run("labels", "export", "--topic", "leader-travel", "-o", str(one_topic), config=stored)
    from_file = run("eval", str(one_topic), config=stored)
    assert from_file.exit_code == 0, from_file.output
    assert "2 labelled items" in from_file.output


def test_draft_query_fixes_and_breaks_labelled_items(stored: Path) -> None:  # noqa: F811
    ids = item_ids(stored)
    run("label", str(ids["premier"]), "leader-travel", "yes", config=stored)
    run("label", str(ids["rain"]), "leader-travel", "yes", config=stored)
    run("label", str(ids["tanks"]), "leader-travel", "no", config=stored)
    result = run("topics", "test", "leader-travel", "--query", "rain OR tanks", config=stored)
    assert result.exit_code == 0, result.output
    assert "labelled items: 3; the draft fixes 1, breaks 2, 0 still wrong" in result.output
    fixes = result.output.split("fixes:")[1].split("breaks:")[0]
    assert "Rain expected" in fixes
    breaks = result.output.split("breaks:")[1]
    assert "Premier arrives" in breaks and "Tanks and troops" in breaks


def test_label_errors_name_the_problem(stored: Path) -> None:  # noqa: F811
    unknown_topic = run("label", "1", "weather", "yes", config=stored)
    assert unknown_topic.exit_code == 2 and "no topic named 'weather'" in unknown_topic.output
    unknown_item = run("label", "999", "leader-travel", "no", config=stored)
    assert unknown_item.exit_code == 2 and "no item with id 999" in unknown_item.output
    nothing = run("eval", "--labels", config=stored)
    assert nothing.exit_code == 2 and "no stored labels" in nothing.output
    both = run("eval", config=stored)
    assert both.exit_code == 2 and "either a labelled JSONL file or --labels" in both.output


def test_check_warns_when_shipped_lists_are_over_six_months_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, time, timedelta

    import watcher.cli.labels
    from watcher.knowledge import shipped_date

    config = tmp_path / "feeds.yaml"
    config.write_text(
        "topics:\n  - {name: travel, query: '@leaders ABROAD/20 @places'}\n", encoding="utf-8"
    )

    def today_plus(days: int) -> datetime:
        return datetime.combine(shipped_date() + timedelta(days=days), time(), tzinfo=UTC)

    monkeypatch.setattr(watcher.cli.labels, "utc_now", lambda: today_plus(30))
    fresh = run("check", config=config)
    assert fresh.exit_code == 0 and "warning" not in fresh.output
    monkeypatch.setattr(watcher.cli.labels, "utc_now", lambda: today_plus(200))
    stale = run("check", config=config)
    assert stale.exit_code == 0, stale.output
    assert "world-knowledge lists" in stale.output and "more than 6 months" in stale.output
