"""English stemming for topics and story terms: Snowball's Porter2 ("english").

Porter2 (Martin Porter's revision of his 1980 algorithm) from the maintained
``snowballstemmer`` package; it replaced a hand-written Porter stemmer (issue #20).
Input is a folded, lower-case word of the letters a-z.
"""

from __future__ import annotations

import threading
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
