"""English stemming for topics and story terms: Snowball's Porter2 ("english").

Porter2 (Martin Porter's revision of his 1980 algorithm) from the maintained
``snowballstemmer`` package; it replaced a hand-written Porter stemmer (issue #20).
``stem_english`` takes a folded, lower-case word of the letters a-z; ``stem_token``
any folded token (None for one that is not such a word), remembered for the next.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import snowballstemmer

# A Snowball stemmer object keeps the word it works on in itself, so threads
# (the daemon polls feeds in parallel) must not share one: one per thread.
_LOCAL = threading.local()


def snowball(language: str) -> Any:
    """This thread's Snowball stemmer for ``language`` ("english", "russian", ...)."""
    stemmers: dict[str, Any] | None = getattr(_LOCAL, "stemmers", None)
    if stemmers is None:
        stemmers = _LOCAL.stemmers = {}
    stemmer = stemmers.get(language)
    if stemmer is None:
        stemmer = stemmers[language] = snowballstemmer.stemmer(language)
    return stemmer


@lru_cache(maxsize=65536)
def stem_english(word: str) -> str:
    """Porter2 stem of ``word``: "travels", "travelled", "travelling" -> "travel"."""
    if len(word) <= 2:
        return word
    stem: str = snowball("english").stemWord(word)
    return stem


_ENGLISH_WORD = re.compile(r"[a-z]+")


class _Stems(dict[str, str | None]):
    """Folded tokens' English stems, worked out once (``stem_token``).

    A plain dict, not an LRU cache: every item's words are stemmed, and keeping
    an LRU order wrote to a cache entry and its neighbours on every lookup, which
    a big topic index's working set evicted from the CPU's caches (issue #18).
    It holds at most ``_MAX_STEMS`` tokens: when full it starts again, empty.
    """

    def __missing__(self, token: str) -> str | None:
        # Only tokens of plain latin letters are stemmed: the stemmer knows English
        # suffixes and would mangle other languages' words or numbers.
        stem = None if _ENGLISH_WORD.fullmatch(token) is None else stem_english(token)
        if stem == token:
            # A word that is its own stem (most) keeps one str for both: the lookup
            # has just read it, where another would be one more object to read.
            stem = token
        if len(self) >= _MAX_STEMS:
            self.clear()
        self[token] = stem
        return stem


_MAX_STEMS = 65536
# The English stem of a folded token, or None for a token we do not stem.
stem_token: Callable[[str], str | None] = _Stems().__getitem__
