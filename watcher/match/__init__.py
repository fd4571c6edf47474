"""Matching items against watch topics.

``query`` parses the query language (its docstring is the reference), ``text``
folds and tokenizes, ``search`` evaluates a query against an item, ``index``
compiles topics into a ``TopicIndex``, ``explain`` says why, and ``evaluate``
measures topics against a labelled file.
"""

from __future__ import annotations

from watcher.match.explain import ClauseResult, Explanation, format_explanation
from watcher.match.index import TopicIndex, TopicQueryError
from watcher.match.item_text import field_text
from watcher.match.query import Query, parse_query

__all__ = [
    "ClauseResult",
    "Explanation",
    "Query",
    "TopicIndex",
    "TopicQueryError",
    "field_text",
    "format_explanation",
    "parse_query",
]
