"""Measuring topics against a labelled JSON Lines file: precision, recall, F1.

Each line is an object with ``id``, ``title``, ``summary``, optionally ``lang``
and ``kind``, and one boolean column per label (``{"id": "d001", "lang": "en",
"title": "...", "summary": "...", "leader_travel": true, "parade": false}``).
Every boolean-valued key is a label column. Items are matched as
``Item(feed="eval", key=id, url=None, title, summary, language=lang)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watcher.match.index import TopicIndex
from watcher.models import Item

EVAL_FEED = "eval"
_TEXT_KEYS = ("id", "title", "summary")


@dataclass(frozen=True, slots=True)
class LabelledRow:
    """One labelled item; ``labels`` maps each label column to its gold value."""

    id: str
    title: str
    summary: str
    labels: Mapping[str, bool] = field(hash=False)
    lang: str | None = None
    kind: str | None = None

    def item(self) -> Item:
        return Item(
            feed=EVAL_FEED,
            key=self.id,
            url=None,
            title=self.title,
            summary=self.summary,
            language=self.lang,
        )


@dataclass(frozen=True, slots=True)
class TopicScore:
    """How one topic did against one label column; the rows it got wrong, in file order."""

    topic: str
    column: str
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    false_positive_rows: tuple[LabelledRow, ...]
    false_negative_rows: tuple[LabelledRow, ...]
    # Per ``lang`` of the rows ("?" when a row has none): the same figures, so a
    # topic that only works in English shows it (issue #20).
    by_language: Mapping[str, TopicScore] = field(default_factory=dict, hash=False)

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        relevant = self.true_positives + self.false_negatives
        return self.true_positives / relevant if relevant else 0.0

    @property
    def f1(self) -> float:
        both = self.precision + self.recall
        return 2 * self.precision * self.recall / both if both else 0.0


@dataclass(frozen=True, slots=True)
class EvalReport:
    rows: int
    scores: tuple[TopicScore, ...]

    def score(self, topic: str) -> TopicScore:
        for score in self.scores:
            if score.topic == topic:
                return score
        raise KeyError(topic)


def load_labelled(path: str | Path) -> list[LabelledRow]:
    """Read a labelled JSONL file; ``ValueError`` names ``file:line`` of a malformed row."""
    rows: list[LabelledRow] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not JSON: {error.msg}") from error
            if not isinstance(record, dict):
                raise ValueError(f"{where}: expected an object")
            for key in _TEXT_KEYS:
                if not isinstance(record.get(key), str):
                    raise ValueError(f"{where}: {key!r} must be a string")
            if record["id"] in seen:
                raise ValueError(f"{where}: duplicate id {record['id']!r}")
            seen.add(record["id"])
            lang = record.get("lang")
            kind = record.get("kind")
            rows.append(
                LabelledRow(
                    id=record["id"],
                    title=record["title"],
                    summary=record["summary"],
                    labels={key: value for key, value in record.items() if type(value) is bool},
                    lang=lang if isinstance(lang, str) else None,
                    kind=kind if isinstance(kind, str) else None,
                )
            )
    return rows


def label_columns(rows: Iterable[LabelledRow]) -> list[str]:
    """Label columns in order of first appearance."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row.labels))
    return list(columns)


def default_label_column(topic_name: str, columns: Sequence[str]) -> str | None:
    """The label column a topic is scored against when none is given.

    The rule: the column named exactly like the topic; else the topic name with
    "-" replaced by "_"; else the first column whose "_"-separated words begin
    the topic's "-"-separated words (``parade-coverage`` -> ``parade``). None when
    nothing fits.
    """
    if topic_name in columns:
        return topic_name
    underscored = topic_name.replace("-", "_")
    if underscored in columns:
        return underscored
    topic_words = topic_name.split("-")
    for column in columns:
        column_words = column.split("_")
        if topic_words[: len(column_words)] == column_words:
            return column
    return None


def evaluate(
    index: TopicIndex,
    rows: Iterable[LabelledRow],
    label_for_topic: Mapping[str, str],
    *,
    partial: bool = False,
) -> EvalReport:
    """Score each topic in ``label_for_topic`` against its label column over ``rows``.

    Raises ``KeyError`` for a topic the index does not have and ``ValueError`` for a
    row without the label column, unless ``partial``: then such a row is left out of
    that topic's figures (a reader labels an item for some topics, not all).
    """
    known = {topic.name for topic in index.topics}
    for topic in label_for_topic:
        if topic not in known:
            raise KeyError(topic)
    counts = {topic: [0, 0, 0, 0] for topic in label_for_topic}
    per_language: dict[str, dict[str, list[int]]] = {topic: {} for topic in label_for_topic}
    false_positives: dict[str, list[LabelledRow]] = {topic: [] for topic in label_for_topic}
    false_negatives: dict[str, list[LabelledRow]] = {topic: [] for topic in label_for_topic}
    total = 0
    for row in rows:
        total += 1
        matched = {found.topic for found in index.match(row.item())}
        for topic, column in label_for_topic.items():
            if column not in row.labels:
                if partial:
                    continue
                raise ValueError(f"row {row.id!r} has no label {column!r}")
            gold = row.labels[column]
            predicted = topic in matched
            outcome = _outcome(gold, predicted)
            counts[topic][outcome] += 1
            per_language[topic].setdefault(row.lang or "?", [0, 0, 0, 0])[outcome] += 1
            if outcome == 1:
                false_positives[topic].append(row)
            elif outcome == 2:
                false_negatives[topic].append(row)
    scores = tuple(
        TopicScore(
            topic,
            column,
            true_positives=counts[topic][0],
            false_positives=counts[topic][1],
            false_negatives=counts[topic][2],
            true_negatives=counts[topic][3],
            false_positive_rows=tuple(false_positives[topic]),
            false_negative_rows=tuple(false_negatives[topic]),
            by_language={
                lang: TopicScore(
                    topic,
                    column,
                    true_positives=tally[0],
                    false_positives=tally[1],
                    false_negatives=tally[2],
                    true_negatives=tally[3],
                    false_positive_rows=(),
                    false_negative_rows=(),
                )
                for lang, tally in sorted(per_language[topic].items())
            },
        )
        for topic, column in label_for_topic.items()
    )
    return EvalReport(total, scores)


def _outcome(gold: bool, predicted: bool) -> int:
    """0 true positive, 1 false positive, 2 false negative, 3 true negative."""
    if predicted:
        return 0 if gold else 1
    return 2 if gold else 3


def errors_by_kind(score: TopicScore) -> dict[tuple[str, str], tuple[int, int]]:
    """(kind, lang) -> (false positives, false negatives): what kinds of item a topic
    gets wrong, without naming one (a held-out set is measured, not read)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for position, wrong in enumerate((score.false_positive_rows, score.false_negative_rows)):
        for row in wrong:
            counts.setdefault((row.kind or "?", row.lang or "?"), [0, 0])[position] += 1
    return {key: (found[0], found[1]) for key, found in sorted(counts.items())}


def format_report(report: EvalReport, *, list_items: bool = True) -> str:
    """A table of per-topic figures, the errors by kind of item and language, and
    (with ``list_items``) the misclassified rows themselves."""
    lines = [f"{report.rows} labelled items"]
    lines.append(f"{'topic':<24} {'label':<16} {'P':>6} {'R':>6} {'F1':>6}  tp  fp  fn")
    for score in report.scores:
        lines.append(
            f"{score.topic:<24} {score.column:<16} {score.precision:6.3f} {score.recall:6.3f} "
            f"{score.f1:6.3f} {score.true_positives:3d} {score.false_positives:3d} "
            f"{score.false_negatives:3d}"
        )
    languages = sorted({lang for score in report.scores for lang in score.by_language})
    if len(languages) > 1:
        lines.append("per language (F1, items):")
        lines.append(f"{'topic':<24} " + " ".join(f"{lang:>10}" for lang in languages))
        for score in report.scores:
            cells = []
            for lang in languages:
                part = score.by_language.get(lang)
                if part is None:
                    cells.append(f"{'-':>10}")
                    continue
                items = (
                    part.true_positives
                    + part.false_positives
                    + part.false_negatives
                    + part.true_negatives
                )
                # A language with no relevant item and no false alarm has no F1 to speak of.
                if part.true_positives + part.false_positives + part.false_negatives == 0:
                    cells.append(f"{'n/a':>6} {items:3d}")
                else:
                    cells.append(f"{part.f1:6.3f} {items:3d}")
            lines.append(f"{score.topic:<24} " + " ".join(cells))
    for score in report.scores:
        kinds = errors_by_kind(score)
        if any(kind != "?" for kind, _ in kinds):
            lines.append(f"{score.topic} errors by kind (fp fn):")
            lines.extend(
                f"  {kind:<40} {lang:<4} {fp:3d} {fn:3d}"
                for (kind, lang), (fp, fn) in kinds.items()
            )
    if not list_items:
        return "\n".join(lines)
    for score in report.scores:
        for title, wrong in (
            ("false positives", score.false_positive_rows),
            ("false negatives", score.false_negative_rows),
        ):
            if wrong:
                lines.append(f"{score.topic} {title}:")
                for row in wrong:
                    kind = f" [{row.kind}]" if row.kind else ""
                    lines.append(f"  {row.id}{kind} {row.title}")
    return "\n".join(lines)
