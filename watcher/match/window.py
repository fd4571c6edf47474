"""Spans near a span: NEAR and ABROAD look only at those, not at every span of an item."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Protocol


class PlacedSpan(Protocol):
    """Where a span is: its field and its first and last positions."""

    @property
    def field(self) -> str: ...
    @property
    def first(self) -> int: ...
    @property
    def last(self) -> int: ...


class SpanHit(Protocol):
    """One list term inside a span: its positions and the term as the list has it."""

    @property
    def first(self) -> int: ...
    @property
    def last(self) -> int: ...
    @property
    def term(self) -> str: ...


class HitSpan(PlacedSpan, Protocol):
    """A placed span with the list terms that make it up, in query order."""

    @property
    def hits(self) -> Sequence[SpanHit]: ...


class SpanWindow:
    """Spans by field, sorted by first position, to find those near a given span.

    NEAR compared every left span with every right span: an item of 100 KB with a
    name and a place in each sentence took seconds (issue #16). ``near`` returns a
    superset of the spans within a distance, in their original order, so the
    callers' results are those of the full comparison.
    """

    __slots__ = ("_by_field",)

    def __init__(self, found: Sequence[PlacedSpan]) -> None:
        by_field: dict[str, list[tuple[int, int]]] = {}
        for number, span in enumerate(found):
            by_field.setdefault(span.field, []).append((span.first, number))
        self._by_field: dict[str, tuple[list[int], list[int], int]] = {}
        for field, pairs in by_field.items():
            pairs.sort()
            longest = max(found[number].last - first for first, number in pairs)
            self._by_field[field] = ([first for first, _ in pairs], [n for _, n in pairs], longest)

    def near(self, span: PlacedSpan, distance: int) -> list[int]:
        """Numbers (ascending) of the spans in ``span``'s field that may be within ``distance``."""
        known = self._by_field.get(span.field)
        if known is None:
            return []
        firsts, numbers, longest = known
        # A span within the distance starts at most ``distance`` after this one ends,
        # and ends at most ``distance`` before it starts, so starts no earlier than
        # that less the longest span.
        low = bisect_left(firsts, span.first - distance - longest)
        high = bisect_right(firsts, span.last + distance)
        return sorted(numbers[low:high])
