"""The score of a match, from its hits.

Each distinct query term that hit contributes the weight of the best
field it hit in (title 2, summary 1, tag 1, content 0.5, feed 0.5), plus 0.1 per
further hit of the same term (at most 0.5 more). The raw sum ``r`` is squashed to
``r / (r + 2)``, in [0, 1): one summary hit scores 0.33, one title hit 0.5, a
title and a summary hit 0.6. Scores are rounded to 4 places, so they are stable
across runs and platforms. Content weighs less than the summary because pages
carry navigation and "related stories" noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

FIELD_WEIGHTS = {"title": 2.0, "summary": 1.0, "tag": 1.0, "content": 0.5, "feed": 0.5}
_REPEAT_BONUS = 0.1
_MAX_REPEAT_BONUS = 0.5
# The score of a match of one hit, by field: nearly every match of a big set of topics.
_ONE_HIT_SCORES = {field: round(raw / (raw + 2.0), 4) for field, raw in FIELD_WEIGHTS.items()}


class _ScoredHit(Protocol):
    @property
    def field(self) -> str: ...
    @property
    def term(self) -> str: ...


def score_hits(hits: Sequence[_ScoredHit]) -> float:
    """The score of a match from its hits (see the module docstring)."""
    if len(hits) == 1:
        # One hit, as most matches have: the sum below is its field's weight.
        return _ONE_HIT_SCORES[hits[0].field]
    best_weight: dict[str, float] = {}
    repeats: dict[str, int] = {}
    for hit in hits:
        weight = FIELD_WEIGHTS[hit.field]
        if hit.term in best_weight:
            repeats[hit.term] += 1
            best_weight[hit.term] = max(best_weight[hit.term], weight)
        else:
            best_weight[hit.term] = weight
            repeats[hit.term] = 0
    raw = sum(
        weight + min(_REPEAT_BONUS * repeats[term], _MAX_REPEAT_BONUS)
        for term, weight in best_weight.items()
    )
    return round(raw / (raw + 2.0), 4)
