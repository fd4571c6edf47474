"""Why a topic did or did not match an item, as data and as text."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.match.item_text import ItemText, field_text
from watcher.match.query import And, Near, Node, Not, Or, Phrase, Scoped, describe
from watcher.match.search import find
from watcher.match.text import DEFAULT_FIELDS
from watcher.models import Hit, Item


@dataclass(frozen=True, slots=True)
class ClauseResult:
    """One clause of a query (canonical ``text``), whether it was true, and its sub-clauses."""

    text: str
    matched: bool
    children: tuple[ClauseResult, ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything ``TopicIndex.match`` decided for one topic and one item.

    ``in_scope`` is False when the topic's ``feeds`` or ``tags`` rule the item out
    (``scope_note`` says which); ``indexed`` says whether the term index would have
    evaluated the topic at all. ``matched`` is the final answer: in scope, query
    true, exclude not fired and ``score >= min_score``.
    """

    topic: str
    item: Item
    matched: bool
    score: float
    min_score: float
    hits: tuple[Hit, ...]
    query: ClauseResult
    exclude: ClauseResult | None
    excluded: bool
    in_scope: bool
    scope_note: str
    indexed: bool


def explain_clause(
    node: Node, text: ItemText, fields: tuple[str, ...] = DEFAULT_FIELDS
) -> ClauseResult:
    """The truth of ``node`` and of each of its sub-clauses for ``text``."""
    matched = find(node, text, fields, complete=False).matched
    children: tuple[ClauseResult, ...] = ()
    if isinstance(node, And | Or):
        children = tuple(explain_clause(child, text, fields) for child in node.children)
    elif isinstance(node, Not):
        children = (explain_clause(node.child, text, fields),)
    elif isinstance(node, Near):
        children = (
            explain_clause(node.left, text, fields),
            explain_clause(node.right, text, fields),
        )
    elif isinstance(node, Scoped):
        inner = explain_clause(node.child, text, (node.field,))
        # A scoped phrase has nothing inside worth a line of its own.
        children = inner.children if isinstance(node.child, Phrase) else (inner,)
    return ClauseResult(describe(node), matched, children)


def _clause_lines(clause: ClauseResult, depth: int) -> list[str]:
    mark = "yes" if clause.matched else "no "
    lines = [f"{'  ' * depth}[{mark}] {clause.text}"]
    for child in clause.children:
        lines += _clause_lines(child, depth + 1)
    return lines


def format_explanation(explanation: Explanation) -> str:
    """A human-readable account of ``explanation``, one fact per line."""
    verdict = "MATCHED" if explanation.matched else "not matched"
    lines = [
        f"topic {explanation.topic}: {verdict} "
        f"(score {explanation.score:.4f}, min_score {explanation.min_score:g})"
    ]
    if not explanation.in_scope:
        lines.append(f"out of scope: {explanation.scope_note}")
    if not explanation.indexed:
        lines.append("none of the topic's indexed terms occur in the item (it would be skipped)")
    lines.append("query:")
    lines += _clause_lines(explanation.query, 1)
    if explanation.exclude is not None:
        fired = "fired, the item is excluded" if explanation.excluded else "did not fire"
        lines.append(f"exclude: {fired}")
        lines += _clause_lines(explanation.exclude, 1)
    if explanation.hits:
        lines.append("hits:")
        for hit in explanation.hits:
            found = field_text(explanation.item, hit.field)[hit.start : hit.end]
            lines.append(f"  {hit.field}[{hit.start}:{hit.end}] {found!r} <- {hit.term}")
    return "\n".join(lines)
