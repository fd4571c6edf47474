"""English stemming for topics and story terms: Snowball's Porter2 ("english").

Porter2 (Martin Porter's revision of his 1980 algorithm) from the maintained
``snowballstemmer`` package; it replaced a hand-written Porter stemmer (issue #20).
Input is a folded, lower-case word of the letters a-z.
"""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

# One stemmer object: constructing one compiles its tables.
_ENGLISH = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem_english(word: str) -> str:
    """Porter2 stem of ``word``: "travels", "travelled", "travelling" -> "travel"."""
    if len(word) <= 2:
        return word
    stem: str = _ENGLISH.stemWord(word)
    return stem
