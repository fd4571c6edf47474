"""The syntax tree of a topic query (``watcher.match.query`` parses it).

Frozen values: compiled topics and the shipped lists' compiled ORs are shared by
every item matched, across threads. A few nodes keep what is worked out from
themselves alone on first use (a list's OR, a term's spelling, an OR's gates):
never anything of an item, and the same whichever thread fills it in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from watcher.knowledge import EntityList

# An OR of fewer children is tried child by child (watcher.match.search): looking
# its phrases' first words up costs about what looking up their candidacy does,
# and such an OR is seldom met twice in one item.
INDEXED_OR_CHILDREN = 8


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a term or phrase, folded; ``stem`` is set when it matches by stem."""

    text: str
    prefix: bool = False
    stem: str | None = None


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must appear in this order at consecutive positions (one word: a term)."""

    words: tuple[Word, ...]
    source: str
    # Countries of the entity this phrase names (list terms only), for ABROAD.
    tags: frozenset[str] = frozenset()
    # Its canonical spelling (a hit's term), kept by watcher.match.search on first use.
    term: str | None = field(default=None, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    # A tuple, or for a named list its phrases made on first use (``ListPhrases``).
    children: Sequence[Node]
    # Per child, the word or stem an item must hold for it to be true (None: not
    # known), kept by watcher.match.alternatives on first use.
    gates: tuple[Gate, ...] | None = field(default=None, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Near:
    """``left`` and ``right`` within ``distance`` positions of each other, in one field."""

    left: Node
    right: Node
    distance: int
    # ABROAD: the left side's countries and the right side's must not overlap.
    abroad: bool = False


@dataclass(frozen=True, slots=True)
class ListRef:
    """``@name``: the OR of a named list's terms (``alternatives``), spelled as its name.

    The OR is built on first use, not when the query is parsed: checking a
    query (``watcher check``, every command's config load) needs only the list's
    name, and folding the shipped lists' ~45,000 terms takes most of a second.
    ``compile`` is what folds them (``watcher.match.compiled_lists``, handed in by
    the parser, which builds these nodes).
    """

    name: str
    entities: EntityList = field(repr=False)
    compile: Callable[[EntityList], Or] = field(repr=False, compare=False)
    _alternatives: Or | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def alternatives(self) -> Or:
        alternatives = self._alternatives
        if alternatives is None:
            alternatives = self.compile(self.entities)
            # A frozen node that fills in its own cache, once.
            object.__setattr__(self, "_alternatives", alternatives)
        return alternatives


@dataclass(frozen=True, slots=True)
class Scoped:
    """``child`` searched in ``field`` only."""

    field: str
    child: Node


Node = Phrase | And | Or | Not | Near | Scoped | ListRef

# ("word", folded token) | ("stem", English stem) | ("prefix", first letters): what
# the topic index files a phrase under (watcher.match.index), and a list's cached
# form records for each of its phrases (watcher.match.compiled_lists).
IndexKey = tuple[str, str]
# A wildcard is indexed under its first 3 to 6 letters (as many as it has), and an
# item's word is looked up under each of its own first 3..6 letters: "arriv*" sits
# in the "arriv" bucket, which "arrived" reaches and "arrears" does not.
MAX_PREFIX_KEY = 6


def word_key(word: Word) -> IndexKey:
    """The index key of one word."""
    if word.stem is not None and not word.prefix:
        return ("stem", word.stem)
    return text_key(word.text, prefix=word.prefix)


def text_key(text: str, *, prefix: bool) -> IndexKey:
    """The index key of a word that matches as written or as a prefix (never by stem)."""
    return ("prefix", text[:MAX_PREFIX_KEY]) if prefix else ("word", text)


def key_word(words: tuple[Word, ...]) -> Word:
    """The word a phrase is indexed by: its most selective, the first of equals."""
    return words[0] if len(words) == 1 else max(words, key=_selectivity)


def _selectivity(word: Word) -> tuple[bool, int]:
    # An exact word is more selective than a prefix bucket; a longer word more
    # than a shorter one ("jong" rather than "un").
    return (not word.prefix, len(word.text))


# An OR's child, the word and the stem of which the item must hold one (both None: no
# such), whether the child is a term of that one word (or of a word of that stem), and
# for a child of several terms (a NEAR, an AND) sets of words of which the item must
# hold one each ("a NEAR (b OR c)": {a} and {b, c}), filled in by the topic index.
Gate = tuple[Node, str | None, str | None, bool, tuple[frozenset[str], ...]]
