"""Scoring topics against a labelled JSONL file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from watcher.config import TopicConfig
from watcher.match import TopicIndex
from watcher.match.evaluate import (
    default_label_column,
    errors_by_kind,
    evaluate,
    format_report,
    label_columns,
    load_labelled,
)

ROWS = [
    {"id": "r1", "lang": "en", "title": "Military parade in Moscow", "summary": "", "parade": True},
    {"id": "r2", "lang": "en", "title": "Pride parade", "summary": "", "parade": False},
    {"id": "r3", "lang": "fr", "title": "Défilé militaire", "summary": "", "parade": True},
    {"id": "r4", "title": "Gold rises", "summary": "", "parade": False, "kind": "easy"},
]


def write_rows(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("parade", "parade"),
        ("leader_travel", "leader_travel"),
        ("leader-travel", "leader_travel"),
        ("parade-coverage", "parade"),
        ("leader-travel-abroad", "leader_travel"),
        ("weather", None),
        ("lead", None),
    ],
)
def test_default_label_column(topic: str, expected: str | None) -> None:
    assert default_label_column(topic, ["leader_travel", "parade"]) == expected


def test_evaluate_counts_and_lists_mistakes(tmp_path: Path) -> None:
    rows = load_labelled(write_rows(tmp_path / "set.jsonl", ROWS))
    assert [row.id for row in rows] == ["r1", "r2", "r3", "r4"]
    assert rows[3].lang is None and rows[3].kind == "easy"
    assert label_columns(rows) == ["parade"]
    index = TopicIndex.build([TopicConfig(name="parade-coverage", query="parade")])
    report = evaluate(index, rows, {"parade-coverage": "parade"})
    score = report.score("parade-coverage")
    assert (score.true_positives, score.false_positives, score.false_negatives) == (1, 1, 1)
    assert score.true_negatives == 1
    assert score.precision == score.recall == score.f1 == 0.5
    assert [row.id for row in score.false_positive_rows] == ["r2"]
    assert [row.id for row in score.false_negative_rows] == ["r3"]
    text = format_report(report)
    assert "4 labelled items" in text
    assert "parade-coverage          parade            0.500  0.500  0.500   1   1   1" in text
    assert "  r3 Défilé militaire" in text
    assert "  r2 Pride parade" in text


def test_nothing_predicted_scores_zero(tmp_path: Path) -> None:
    rows = load_labelled(write_rows(tmp_path / "set.jsonl", ROWS))
    index = TopicIndex.build([TopicConfig(name="p", query="tanks")])
    score = evaluate(index, rows, {"p": "parade"}).score("p")
    assert (score.precision, score.recall, score.f1) == (0.0, 0.0, 0.0)


def test_evaluate_refuses_unknown_topic_and_missing_label(tmp_path: Path) -> None:
    rows = load_labelled(write_rows(tmp_path / "set.jsonl", ROWS))
    index = TopicIndex.build([TopicConfig(name="p", query="parade")])
    with pytest.raises(KeyError):
        evaluate(index, rows, {"q": "parade"})
    with pytest.raises(ValueError, match="row 'r1' has no label 'travel'"):
        evaluate(index, rows, {"p": "travel"})


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected an object"),
        ('{"id": "x", "title": 3, "summary": ""}', "'title' must be a string"),
    ],
)
def test_load_labelled_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad\.jsonl:2: {problem}"):
        load_labelled(path)


def test_load_labelled_refuses_duplicate_ids(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "dup.jsonl", [ROWS[0], ROWS[0]])
    with pytest.raises(ValueError, match=r"dup\.jsonl:2: duplicate id 'r1'"):
        load_labelled(path)


def test_evaluate_reports_each_language(tmp_path: Path) -> None:
    rows = load_labelled(write_rows(tmp_path / "set.jsonl", ROWS))
    index = TopicIndex.build([TopicConfig(name="parade-coverage", query="parade")])
    score = evaluate(index, rows, {"parade-coverage": "parade"}).score("parade-coverage")
    assert sorted(score.by_language) == ["?", "en", "fr"]
    english = score.by_language["en"]
    assert (english.true_positives, english.false_positives, english.false_negatives) == (1, 1, 0)
    french = score.by_language["fr"]
    assert (french.true_positives, french.false_negatives, french.f1) == (0, 1, 0.0)
    text = format_report(evaluate(index, rows, {"parade-coverage": "parade"}))
    assert "per language" in text
    assert "0.667   2" in text  # English: P 0.5, R 1.0 over two items


def test_errors_by_kind_and_the_held_out_report_name_no_item(tmp_path: Path) -> None:
    kinded = [{**row, "kind": f"kind-{row['id']}"} for row in ROWS]
    rows = load_labelled(write_rows(tmp_path / "set.jsonl", kinded))
    index = TopicIndex.build([TopicConfig(name="parade-coverage", query="parade")])
    report = evaluate(index, rows, {"parade-coverage": "parade"})
    kinds = errors_by_kind(report.score("parade-coverage"))
    assert kinds == {("kind-r2", "en"): (1, 0), ("kind-r3", "fr"): (0, 1)}
    held_out = format_report(report, list_items=False)
    assert "errors by kind" in held_out
    assert "Pride parade" not in held_out and "kind-r2" in held_out
    assert "Pride parade" in format_report(report)
