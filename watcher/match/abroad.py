"""The ABROAD operator: a leader of one country placed in another.

``left ABROAD/n right`` pairs each left span (a leader, tagged with the
countries they lead) with the nearest right span (a place, tagged with the
countries it belongs to) within ``n`` positions in the same field. It is a trip
abroad when that nearest place belongs to no country of the leader.

Two kinds of place evidence:

- a country, its capital or a major city places someone in that country: it can
  make a match abroad, and it keeps one at home when it is the leader's own;
- a region (a US state, an oblast, a prefecture) is only **home** evidence. A
  region of the leader's own country keeps the match at home ("Trump tours
  flooded Texas"); a region of another country is ignored, because region names
  are too often shared with rivers, streets and people to prove a trip abroad.
  Regions carry their countries as :func:`home_only_tag` tags.

A place name that is part of another feature's name ("the Guadalupe River",
"Moscow Road", "rue de Paris") is no evidence, nor is a one-word place written in
lower case ("para", Spanish for "for"), nor CJK characters a full stop cuts
("열었다. 푸틴"): see :mod:`watcher.match.no_place`.

Nor is a place of the leader's own country that only says who they are or where
they set off from ("Zimbabwe's Mnangagwa", "left Harare for Beijing").

Nor is a place that says where a border or a neighbour is ("the border with
Mexico", "near the China border", "talks with Japan"): see :mod:`watcher.match.no_place`;
nor a foreign place that stands for its government ("Putin says Kyiv must",
"that Russia must", "Kyiv's forces"): see :func:`names_a_government`.

Two rules about who travels: a leader written as the **host** ("Kim received
Shoigu", "welcomed by Macron") is not the traveller, so their span is dropped;
nor is a leader written as the one who **sends** the traveller ("a message from
Putin", "on behalf of Xi", "Putin's envoy"), or whose relative travels: see
:mod:`watcher.match.traveller`.

And one about who a title is: a bare title in the summary ("the chancellor
arrived in Tokyo") is the leader the headline names ("Merz in Japan: ..."),
so it borrows that leader's countries (:func:`headline_countries`), unless
a country's adjective stands beside it ("le président kazakh":
:mod:`watcher.match.adjective`); in Korean
and Japanese news, a bare 대통령 or 총리 is South Korea's and a bare 首相 Japan's
(:func:`watcher.match.press.press_country`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache, partial
from typing import Protocol, TypeVar

from watcher.match.adjective import adjective_country
from watcher.match.bare_title import (
    after_a_deputy,
    headline_adjective_country,
    is_french_first,
    title_fits,
    titles_a_name,
    titles_another,
)
from watcher.match.fold import is_cjk
from watcher.match.no_place import is_no_place, names_a_border, word_before
from watcher.match.press import (
    abbreviated_country,
    break_between,
    number_at,
    only_space_between,
    press_country,
    sentence_end_between,
    text_between,
    token_at,
)
from watcher.match.someone_else import is_official_story, is_someone_else
from watcher.match.spoken_of import is_spoken_of, names_a_government
from watcher.match.status import NotSitting
from watcher.match.text import FieldText
from watcher.match.traveller import (
    HEADLINE,
    is_host,
    is_lower_case_name,
    is_namesake,
    is_sender,
    is_spoken_of_leader,
    qualifies_another_office,
    title_case,
)
from watcher.match.window import HitSpan, PlacedSpan, SpanWindow

HOME_ONLY_MARK = "~"


def home_only_tag(country: str) -> str:
    """The tag of a place that shows a leader of ``country`` at home, never abroad."""
    return HOME_ONLY_MARK + country


def _countries(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(tag.removeprefix(HOME_ONLY_MARK) for tag in tags)


def _abroad_evidence(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(tag for tag in tags if not tag.startswith(HOME_ONLY_MARK))


class TaggedSpan(HitSpan, Protocol):
    """What ABROAD needs of a span: where it is and the countries of its list terms."""

    @property
    def tags(self) -> frozenset[str]: ...


LeftSpan = TypeVar("LeftSpan", bound=TaggedSpan)
RightSpan = TypeVar("RightSpan", bound=TaggedSpan)


def _gap(left: PlacedSpan, right: PlacedSpan) -> int:
    return max(right.first - left.last, left.first - right.last)


# A home place right after one of these is where the trip starts, not a sign of
# staying home ("left Harare for Beijing", "from Pyongyang to Moscow"); ordinary
# words of departure in the topic languages.
_DEPARTURE = frozenset(
    {
        "from", "left", "leaves", "leaving", "departs", "departed", "quitte", "quittant",
        "depuis", "verlasst", "verliess", "desde", "из", "покинул", "покинув",
    }
)  # fmt: skip


# A home place right after a leader and one of these says whose leader they are
# ("King Abdallah of Jordan", "le président du Sénégal", "Fürst Albert von Monaco").
_OF_COUNTRY = frozenset({"of", "du", "de", "des", "d", "von", "del"})


# A home place right after one of these is where a trip abroad ends ("returns to
# London after the G7 in Canada", "zurück in Berlin"): no sign the news is at home.
_RETURN_BEFORE = frozenset(
    {
        ("returns", "to"), ("returned", "to"), ("return", "to"), ("returning", "to"),
        ("back", "to"), ("back", "in"), ("zuruck", "in"), ("zuruck", "nach"),
        ("retour", "a"), ("rentre", "a"), ("revient", "a"), ("regresa", "a"),
        ("regreso", "a"), ("vuelta", "a"), ("vuelve", "a"), ("вернулся", "в"),
        ("возвращается", "в"), ("вернется", "в"),
    }
)  # fmt: skip


def _home_not_location(left: PlacedSpan, right: PlacedSpan, field: FieldText) -> bool:
    """Whether a place of the leader's own country is not where the leader is: the
    leader's nationality ("Zimbabwe's Mnangagwa", "Russian Putin"), the start of
    the trip ("left Harare") or its end ("returns to London")."""
    tokens = field.tokens
    if (
        right.last == left.first - 1
        or (right.last == left.first - 2 and token_at(tokens, right.last + 1) == "s")
    ) and only_space_between(field, right.last, left.first):
        return True
    # "King Abdallah of Jordan", "le roi du Maroc", "Fürst Albert von Monaco".
    if right.first == left.last + 2 and token_at(tokens, left.last + 1) in _OF_COUNTRY:
        return True
    before = word_before(tokens, right.first)
    if before in _DEPARTURE:
        return True
    return (token_at(tokens, right.first - 2), token_at(tokens, right.first - 1)) in _RETURN_BEFORE


def _overlaps(one: PlacedSpan, other: PlacedSpan) -> bool:
    return one.field == other.field and one.first <= other.last and other.first <= one.last


_NAME_DOTS = frozenset({"・", "·", "="})


def _in_name(place: PlacedSpan, leader: PlacedSpan, field: FieldText) -> bool:
    """Whether ``place`` is a given name right before a leader's family name: only
    a space, or Japanese's name dot, between them ("블라디미르 푸틴", "ウラジーミル・
    プーチン"; "Peking: Kanzler wirbt" is a place, then a title)."""
    if place.field != leader.field or place.last != leader.first - 1:
        return False
    between = text_between(field, place.last, leader.first)
    return between is None or between.isspace() or between in _NAME_DOTS


def _is_title(left: PlacedSpan, titles: Iterable[PlacedSpan]) -> bool:
    """Whether a leader's one-word term at ``left`` is also a bare title ("Pope",
    "Kanzler", "Taoiseach"): the capitalised word beside it is the name the title
    goes with ("Pope Francis", "Kanzler Scholz"), not a namesake's other name."""
    return any(_same_place(left, title) for title in titles)


def _same_place(one: PlacedSpan, other: PlacedSpan) -> bool:
    return (one.field, one.first, one.last) == (other.field, other.first, other.last)


# A country and a title with phrase-ending punctuation between are not a qualified
# title ("岸田首相、ウクライナを訪問": the prime minister is Japan's, Ukraine is
# where he goes).
def _crosses_a_clause(left: PlacedSpan, field: FieldText) -> bool:
    """Whether a leader's span of several tokens (a country with a title) holds
    punctuation that ends a phrase, or the end of a sentence ("… Литвой и Польшей.
    В День студенчества президент")."""
    return left.first != left.last and break_between(field, left.first, left.last)


def _title_before_country(left: PlacedSpan, titles: Sequence[PlacedSpan], field: FieldText) -> bool:
    """Whether a country-and-title span in CJK text starts with its title ("푸틴
    대통령은 연설에서 우크라이나"): Chinese, Japanese and Korean write the
    country before the title it qualifies ("러시아 대통령", "英首相"), so a country
    after the title is another subject."""
    if not any(
        title.field == left.field and title.first == left.first and title.last < left.last
        for title in titles
    ):
        return False
    number = number_at(field.tokens, left.first)
    return number is not None and is_cjk(field.tokens.words[number])


def _inside_another_name(left: TaggedSpan, lefts: Sequence[TaggedSpan]) -> bool:
    """Whether a leader's one-word name is part of a longer name of another country's
    leader ("Kim" of North Korea in "Kim Min-seok", South Korea's prime minister):
    the longer name says who it is."""
    return left.first == left.last and any(
        other.field == left.field
        and other.first == left.first < other.last
        and other.tags
        and other.tags != left.tags
        for other in lefts
    )


def headline_countries(travellers: Iterable[TaggedSpan]) -> frozenset[str]:
    """The countries of the one leader the headline names as travelling ("Merz in
    Japan: ..."), which a bare title later in the item ("the chancellor") refers
    to; empty when the headline names none, or leaders of different countries."""
    named = {_countries(left.tags) for left in travellers if left.field == HEADLINE}
    return next(iter(named)) if len(named) == 1 else frozenset()


# "Putin says Kyiv and Moscow must ...": a place joined by one of these to a place
# that stands for its government stands for its own.
_AND = frozenset({"and", "or", "und", "oder", "et", "ou", "y", "o", "и", "или"})


def _governments(rights: Sequence[TaggedSpan], fields: Mapping[str, FieldText]) -> set[int]:
    """The ids of the places in ``rights`` that stand for their government (see
    :func:`names_a_government`), with those coordinated after them."""
    found: set[int] = set()
    ends: dict[tuple[str, int], TaggedSpan] = {}
    for right in sorted(rights, key=lambda span: (span.field, span.first)):
        field = fields[right.field]
        before = ends.get((right.field, right.first - 2))
        if names_a_government(right, field) or (
            before is not None
            and id(before) in found
            and token_at(field.tokens, right.first - 1) in _AND
        ):
            found.add(id(right))
        ends[(right.field, right.last)] = right
    return found


# What ABROAD judges of an item (``abroad_pairs``): at most so many leaders' and
# places' spans, those nearest their field's start. An article says who went where
# in its first paragraphs; the bounds keep an item's cost fixed however many names
# a long one holds.
MAX_ABROAD_LEFTS = 64
MAX_ABROAD_RIGHTS = 512

_Span = TypeVar("_Span", bound=PlacedSpan)


def _first_spans(spans: Iterable[_Span], most: int) -> list[_Span]:
    """At most ``most`` of ``spans``, those nearest their field's start (in their
    own order when there are no more)."""
    found = list(spans)
    if len(found) <= most:
        return found
    return sorted(found, key=lambda span: span.first)[:most]


def abroad_pairs(
    lefts: Iterable[LeftSpan],
    rights: Sequence[RightSpan],
    distance: int,
    fields: Mapping[str, FieldText],
) -> list[tuple[LeftSpan, RightSpan]]:
    """Each left span of known countries that travels, with its nearest place when
    that place is abroad (see the module docstring): "Putin in St Petersburg, beside
    the Gulf of Finland" is at home, "Kim, who left Pyongyang, arrived in Beijing"
    abroad when Beijing is the nearer."""
    found: list[tuple[LeftSpan, RightSpan]] = []
    # The rules below compare leaders with leaders and places with places: an
    # item of 200,000 characters dense with names took 24 s. What ABROAD judges
    # is bounded instead (issue #16): at most MAX_ABROAD_LEFTS leaders' spans and
    # MAX_ABROAD_RIGHTS places', the first in their fields.
    lefts = [
        left
        for left in _first_spans(lefts, MAX_ABROAD_LEFTS)
        if not _crosses_a_clause(left, fields[left.field])
    ]
    bare_titles = [left for left in lefts if not left.tags]
    lefts = [
        left
        for left in lefts
        if not _title_before_country(left, bare_titles, fields[left.field])
        and not _inside_another_name(left, lefts)
        and not is_french_first(left, fields[left.field])
    ]
    rights = _first_spans(rights, MAX_ABROAD_RIGHTS)
    window = SpanWindow(rights)
    listed: dict[str, frozenset[int]] = {
        name: frozenset(
            position
            for span in [*lefts, *rights]
            if span.field == name
            for position in range(span.first, span.last + 1)
        )
        for name in fields
    }
    titles = [left for left in lefts if not left.tags]
    title_cased = cache(title_case)  # a field's, once: it reads all of the field
    # Asked only for a leader no other rule dropped (most items have none), once.
    official_story = cache(partial(is_official_story, fields, lefts))

    not_sitting = NotSitting.of(lefts, fields)
    travellers = [
        left
        for left in lefts
        if left.tags
        and not is_host(left, fields[left.field])
        and not is_sender(left, fields[left.field])
        and not is_spoken_of_leader(left, fields[left.field])
        and not is_lower_case_name(left, fields[left.field])
        and not not_sitting.covers(left, fields[left.field])
        and not qualifies_another_office(left, fields[left.field])
        and not (is_namesake(left, fields, listed, title_cased) and not _is_title(left, titles))
        and not is_someone_else(left, fields, lefts, rights, official_story)
    ]
    # The headline's leader may be a title with its country's adjective ("El
    # presidente indonesio, invitado de honor ..."): its country is lent too.
    borrowed = headline_countries(travellers) or headline_adjective_country(lefts, fields)
    governments = _governments(rights, fields)
    named = [left for left in lefts if left.tags]

    # What a place is, whoever is near it: judged once per place, not per leader.
    # ``foreign``: the rules that hold only for a place of another country than
    # the leader's (a border, a government, a subject of talk).
    judged: dict[tuple[int, bool], bool] = {}

    def no_place(right: RightSpan, foreign: bool) -> bool:
        key = (id(right), foreign)
        if key not in judged:
            field = fields[right.field]
            judged[key] = (
                names_a_border(right, field)
                or id(right) in governments
                or is_spoken_of(right, field)
                if foreign
                else is_no_place(right, field)
            )
        return judged[key]

    def nearest_places(left: LeftSpan) -> tuple[frozenset[str], list[RightSpan]]:
        """The leader's countries and the nearest places that are evidence for them."""
        home = _countries(left.tags)
        if not home:
            # A bare title ("the chancellor") is the leader the headline names, or
            # in Korean and Japanese news, South Korea's and Japan's.
            if (
                any(_overlaps(left, other) for other in travellers)
                or titles_a_name(left, named, fields[left.field])
                or after_a_deputy(left, fields[left.field])
                or not_sitting.covers(left, fields[left.field])
            ):
                return home, []
            home = adjective_country(left, fields[left.field]) or abbreviated_country(
                left, fields[left.field]
            )
            # A title with its country's adjective or abbreviation is a leader
            # named, whom the rules of who travels judge as a leader's name.
            if home and is_someone_else(left, fields, lefts, rights, official_story):
                return home, []
            home = (
                home
                or press_country(left, fields[left.field], fields)
                or (
                    borrowed
                    if left.field != HEADLINE
                    and title_fits(left, fields[left.field], borrowed)
                    and not titles_another(left, fields[left.field])
                    else frozenset()
                )
            )
        if not home or (left.tags and left not in travellers):
            return home, []
        if is_host(left, fields[left.field]) or is_sender(left, fields[left.field]):
            return home, []
        near = [
            (gap, right)
            for right in map(rights.__getitem__, window.near(left, distance))
            if right.tags
            and 0 < (gap := _gap(left, right)) <= distance
            # A foreign region is no evidence either way.
            and (_abroad_evidence(right.tags) or not home.isdisjoint(_countries(right.tags)))
            and not no_place(right, foreign=False)
            and not (home.isdisjoint(_countries(right.tags)) and no_place(right, foreign=True))
            # "Vladimir" in "President Vladimir Putin" is no Russian city.
            and not any(_in_name(right, other, fields[right.field]) for other in named)
            # A foreign place in an earlier sentence is that sentence's subject's,
            # not where the leader of this one is ("… im Kanzleramt empfangen. Der
            # Niederländer war zum Gipfel in Den Haag angereist. Merz sicherte zu
            # …", "… 김일성광장에서 열병식을 열었다. 시진핑 주석은 축전을 보냈다");
            # a place of the leader's own country there still keeps them home.
            and not (
                right.last < left.first
                and home.isdisjoint(_countries(right.tags))
                and sentence_end_between(fields[left.field], right.last, left.first)
            )
            and not (
                not home.isdisjoint(_countries(right.tags))
                and _home_not_location(left, right, fields[right.field])
            )
        ]
        if not near:
            return home, []
        closest = min(gap for gap, _ in near)
        return home, [right for gap, right in near if gap == closest]

    decided = {id(left): nearest_places(left) for left in lefts}
    for left in lefts:
        home, nearest = decided[id(left)]
        if not nearest:
            continue
        if all(home.isdisjoint(_countries(right.tags)) for right in nearest):
            found.append((left, nearest[0]))
    return found
