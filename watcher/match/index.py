"""Compiled topics and the term index that picks which topics to evaluate for an item.

Each topic query has a set of *index keys*, chosen so that the query cannot be
true unless the item contains at least one of them: an AND needs any one of its
children's key sets (we take the smallest), an OR needs the union of its
children's, a phrase needs its most selective word. A key is an exact word, an
English stem (stemming topics), or the first 3 to 6 letters of a wildcard prefix,
so wildcards are looked up by bucket rather than scanned one by one. A query
with no such set (``NOT x``, ``a OR NOT b``) is evaluated for every item.

``match`` tokenizes the item once, looks each distinct token up in the index
(exact word, stem, its 3- to 6-letter prefixes) and evaluates only the topics found, so the
cost per item grows with the topics whose terms the item contains, not with the
number of topics configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from watcher.config import ListConfig, TopicConfig
from watcher.exceptions import QueryError
from watcher.knowledge import EntityList, resolve_lists
from watcher.match.explain import Explanation, explain_clause
from watcher.match.query import (
    And,
    ListRef,
    Node,
    Not,
    Or,
    Phrase,
    Query,
    Scoped,
    Word,
    parse_query,
)
from watcher.match.search import ItemText, find, score_hits
from watcher.match.text import stem_token
from watcher.models import Item, TopicMatch

# ("word", folded token) | ("stem", English stem) | ("prefix", first 3 letters)
IndexKey = tuple[str, str]


class TopicQueryError(QueryError):
    """A topic's ``query`` or ``exclude`` does not parse; says which topic and which field."""

    def __init__(self, topic: str, field: Literal["query", "exclude"], error: QueryError) -> None:
        self.topic = topic
        self.field = field
        super().__init__(f"topic {topic!r}, {field}: {error.message}", error.column)


@dataclass(frozen=True, slots=True)
class CompiledTopic:
    config: TopicConfig
    query: Query
    exclude: Query | None
    keys: frozenset[IndexKey] | None  # None: evaluate for every item

    def scope_note(self, item: Item) -> str:
        """Why the topic's feed/tag scoping rules ``item`` out; "" when it does not."""
        if self.config.feeds and item.feed not in self.config.feeds:
            return f"feed {item.feed!r} is not one of {', '.join(self.config.feeds)}"
        if self.config.tags:
            wanted = {tag.casefold() for tag in self.config.tags}
            if not wanted.intersection(tag.casefold() for tag in item.tags):
                return f"the item has none of the tags {', '.join(self.config.tags)}"
        return ""


# A wildcard is indexed under its first 3 to 6 letters (as many as it has), and an
# item's word is looked up under each of its own first 3..6 letters: "arriv*" sits
# in the "arriv" bucket, which "arrived" reaches and "arrears" does not.
MAX_PREFIX_KEY = 6


def _word_key(word: Word) -> IndexKey:
    if word.prefix:
        return ("prefix", word.text[:MAX_PREFIX_KEY])
    if word.stem is not None:
        return ("stem", word.stem)
    return ("word", word.text)


def index_keys(node: Node) -> frozenset[IndexKey] | None:
    """Keys of which an item must contain one for ``node`` to be true; None if there are none."""
    if isinstance(node, Phrase):
        # An exact word is more selective than a prefix bucket; a longer word more
        # than a shorter one ("jong" rather than "un").
        chosen = max(node.words, key=lambda word: (not word.prefix, len(word.text)))
        return frozenset({_word_key(chosen)})
    if isinstance(node, Scoped):
        return index_keys(node.child)
    if isinstance(node, ListRef):
        return index_keys(node.alternatives)
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        union: set[IndexKey] = set()
        for child in node.children:
            keys = index_keys(child)
            if keys is None:
                return None
            union |= keys
        return frozenset(union)
    children = node.children if isinstance(node, And) else (node.left, node.right)
    candidates = [keys for keys in map(index_keys, children) if keys is not None]
    return min(candidates, key=len) if candidates else None


def compile_topic(
    config: TopicConfig, lists: Mapping[str, EntityList] | None = None
) -> CompiledTopic:
    """Parse a topic's query and exclude; raise ``TopicQueryError`` naming the topic.

    ``@name`` in them refers to ``lists`` (the shipped lists when None).
    """
    try:
        query = parse_query(config.query, stemming=config.stemming, lists=lists)
    except QueryError as error:
        raise TopicQueryError(config.name, "query", error) from error
    exclude = None
    if config.exclude is not None and config.exclude.strip():
        try:
            exclude = parse_query(config.exclude, stemming=config.stemming, lists=lists)
        except QueryError as error:
            raise TopicQueryError(config.name, "exclude", error) from error
    return CompiledTopic(config, query, exclude, index_keys(query.root))


class TopicIndex:
    """Topics compiled once, matched against many items.

    ``last_evaluated`` is how many topics the last ``match`` call evaluated (the
    rest were skipped by the term index or by feed/tag scoping); it is there for
    tests and benchmarks, and is not meaningful when one index is shared by threads.
    """

    def __init__(
        self,
        topics: tuple[CompiledTopic, ...],
        postings: dict[IndexKey, tuple[int, ...]],
        always: tuple[int, ...],
    ) -> None:
        self._topics = topics
        self._postings = postings
        self._always = always
        self._by_name = {topic.config.name: topic for topic in topics}
        # The postings split by kind, keyed by plain strings: an item's words are
        # intersected with each (set operations, not a lookup per word and key).
        self._by_kind: dict[str, dict[str, tuple[int, ...]]] = {
            "word": {},
            "prefix": {},
            "stem": {},
        }
        for (kind, text), numbers in postings.items():
            self._by_kind[kind][text] = numbers
        self._prefix_lengths = sorted({len(text) for text in self._by_kind["prefix"]})
        self.last_evaluated = 0

    @classmethod
    def build(
        cls, topics: Sequence[TopicConfig], lists: Mapping[str, ListConfig] | None = None
    ) -> TopicIndex:
        """Compile ``topics``; raise ``TopicQueryError`` for the first one that does not parse.

        ``lists`` is the configuration's ``lists:`` (applied over the shipped lists).
        """
        resolved = resolve_lists(lists or {})
        compiled = tuple(compile_topic(config, resolved) for config in topics)
        names = [topic.config.name for topic in compiled]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate topic names: {', '.join(duplicates)}")
        postings: dict[IndexKey, list[int]] = {}
        always: list[int] = []
        for number, topic in enumerate(compiled):
            if topic.keys is None:
                always.append(number)
                continue
            for key in topic.keys:
                postings.setdefault(key, []).append(number)
        return cls(
            compiled, {key: tuple(numbers) for key, numbers in postings.items()}, tuple(always)
        )

    @property
    def topics(self) -> tuple[TopicConfig, ...]:
        return tuple(topic.config for topic in self._topics)

    def _candidates(self, text: ItemText) -> list[int]:
        """Numbers of the topics that have an index key in ``text``, in configuration order."""
        found = set(self._always)
        words = text.distinct_words()
        by_word, by_prefix, by_stem = (
            self._by_kind["word"],
            self._by_kind["prefix"],
            self._by_kind["stem"],
        )
        for word in words & by_word.keys():
            found.update(by_word[word])
        for length in self._prefix_lengths:
            prefixes = {word[:length] for word in words if len(word) >= length}
            for prefix in prefixes & by_prefix.keys():
                found.update(by_prefix[prefix])
        if by_stem:
            stems = {stem for stem in map(stem_token, words) if stem is not None}
            for stem in stems & by_stem.keys():
                found.update(by_stem[stem])
        return sorted(found)

    def match(self, item: Item) -> list[TopicMatch]:
        """The topics ``item`` matches, in configuration order, with hits and scores."""
        text = ItemText(item)
        matches: list[TopicMatch] = []
        evaluated = 0
        for number in self._candidates(text):
            topic = self._topics[number]
            if topic.scope_note(item):
                continue
            evaluated += 1
            found = find(topic.query.root, text)
            if not found.matched:
                continue
            if topic.exclude is not None and find(topic.exclude.root, text, complete=False).matched:
                continue
            score = score_hits(found.hits)
            if score >= topic.config.min_score:
                matches.append(TopicMatch(topic.config.name, score, found.hits))
        self.last_evaluated = evaluated
        return matches

    def explain(self, topic: str, item: Item) -> Explanation:
        """How topic ``topic`` fares against ``item``; ``KeyError`` if there is no such topic."""
        compiled = self._by_name[topic]
        text = ItemText(item)
        found = find(compiled.query.root, text)
        exclude = None
        excluded = False
        if compiled.exclude is not None:
            exclude = explain_clause(compiled.exclude.root, text)
            excluded = exclude.matched
        score = score_hits(found.hits) if found.matched else 0.0
        scope_note = compiled.scope_note(item)
        number = next(n for n, known in enumerate(self._topics) if known is compiled)
        return Explanation(
            topic=topic,
            item=item,
            matched=(
                found.matched
                and not excluded
                and not scope_note
                and score >= compiled.config.min_score
            ),
            score=score,
            min_score=compiled.config.min_score,
            hits=found.hits if found.matched else (),
            query=explain_clause(compiled.query.root, text),
            exclude=exclude,
            excluded=excluded,
            in_scope=not scope_note,
            scope_note=scope_note,
            indexed=number in self._candidates(text),
        )
