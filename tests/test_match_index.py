"""TopicIndex: matching (tests/data/match/matches.yaml), scoring, scoping, the term index."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from watcher.config import ListConfig, TopicConfig
from watcher.exceptions import QueryError
from watcher.match import (
    TopicIndex,
    TopicQueryError,
    alternatives,
    field_text,
    format_explanation,
    parse_query,
)
from watcher.match.item_text import ItemText
from watcher.match.nodes import Or, Phrase, Word
from watcher.match.requirements import requirements
from watcher.match.search import find
from watcher.models import Item

DATA = Path(__file__).parent / "data" / "match"


def make_item(**fields: Any) -> Item:
    return Item(
        feed=fields.get("feed", "news"),
        key=fields.get("key", "k1"),
        url=None,
        title=fields.get("title", ""),
        summary=fields.get("summary", ""),
        content_text=fields.get("content", ""),
        tags=tuple(fields.get("tags", ())),
    )


def topic(query: str, name: str = "t", **settings: Any) -> TopicConfig:
    return TopicConfig(name=name, query=query, **settings)


MATCH_CASES = yaml.safe_load((DATA / "matches.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", MATCH_CASES, ids=lambda case: case["name"])
def test_match_table(case: dict[str, Any]) -> None:
    config = topic(case["query"], exclude=case.get("exclude"), stemming=case.get("stemming", False))
    item = make_item(**case)
    matches = TopicIndex.build([config]).match(item)
    assert bool(matches) is case["matched"]
    if "highlights" in case:
        highlighted = [
            f"{hit.field}:{field_text(item, hit.field)[hit.start : hit.end]}"
            for hit in matches[0].hits
        ]
        assert highlighted == case["highlights"]


def test_hit_offsets_index_the_original_text_after_folding() -> None:
    # Combining accents, a ligature and a full-width word shift folded offsets.
    title = "Le Pre\u0301sident ﬁnit à ＰＡＲＩＳ, Kim Jong-Un"
    item = make_item(title=title)
    [found] = TopicIndex.build([topic('president OR finit OR paris OR "kim jong un"')]).match(item)
    assert [title[hit.start : hit.end] for hit in found.hits] == [
        "Pre\u0301sident",
        "ﬁnit",
        "ＰＡＲＩＳ",
        "Kim Jong-Un",
    ]
    assert {hit.term for hit in found.hits} == {"president", "finit", "paris", '"kim jong un"'}


def test_matches_come_in_configuration_order_with_names() -> None:
    index = TopicIndex.build([topic("parade", name="b"), topic("moscow", name="a")])
    found = index.match(make_item(title="Parade in Moscow"))
    assert [match.topic for match in found] == ["b", "a"]


def test_score_weights_title_above_summary_and_is_normalized() -> None:
    index = TopicIndex.build([topic("parade")])
    [in_title] = index.match(make_item(title="parade"))
    [in_summary] = index.match(make_item(summary="parade"))
    [in_content] = index.match(make_item(content="parade"))
    [both] = index.match(make_item(title="parade", summary="parade"))
    assert in_title.score == 0.5
    assert in_summary.score == pytest.approx(1 / 3, abs=1e-4)
    assert in_content.score == 0.2
    assert in_title.score < both.score < 1.0


def test_min_score_drops_weak_matches() -> None:
    index = TopicIndex.build([topic("parade", min_score=0.5)])
    assert index.match(make_item(summary="a parade")) == []
    assert [m.topic for m in index.match(make_item(title="a parade"))] == ["t"]


def test_feed_scoping() -> None:
    index = TopicIndex.build([topic("parade", feeds=("tass",))])
    assert index.match(make_item(feed="bbc", title="parade")) == []
    assert len(index.match(make_item(feed="tass", title="parade"))) == 1
    assert index.last_evaluated == 1


def test_tag_scoping_ignores_case() -> None:
    index = TopicIndex.build([topic("parade", tags=("Military",))])
    assert index.match(make_item(title="parade", tags=["culture"])) == []
    assert index.last_evaluated == 0
    assert len(index.match(make_item(title="parade", tags=["military"]))) == 1


def test_topic_without_its_terms_is_never_evaluated() -> None:
    topics = [
        topic('"state visit" OR arriv*', name="travel"),
        topic("parade NOT pride", name="parade"),
        topic("阅兵", name="zh"),
        topic("travel", name="stemmed", stemming=True),
    ]
    index = TopicIndex.build(topics)
    assert index.match(make_item(title="Markets fall as gold rises")) == []
    assert index.last_evaluated == 0
    # "arrived" reaches the "arriv" bucket of arriv*; only that topic runs.
    assert [m.topic for m in index.match(make_item(title="Xi arrived"))] == ["travel"]
    assert index.last_evaluated == 1
    # "arrears" shares no bucket with arriv*: nothing runs.
    assert index.match(make_item(title="Arrears mount")) == []
    assert index.last_evaluated == 0
    assert [m.topic for m in index.match(make_item(title="Travelling by train"))] == ["stemmed"]
    assert index.last_evaluated == 1
    assert [m.topic for m in index.match(make_item(title="盛大阅兵"))] == ["zh"]
    assert index.last_evaluated == 1


def test_purely_negative_topic_is_evaluated_for_every_item() -> None:
    index = TopicIndex.build([topic("NOT pride", name="neg"), topic("parade", name="pos")])
    assert [m.topic for m in index.match(make_item(title="Gold rises"))] == ["neg"]
    assert index.last_evaluated == 1


def test_evaluated_topics_grow_with_matching_terms_not_with_configured_topics() -> None:
    many = [topic(f"word{number} OR other{number}", name=f"t{number}") for number in range(500)]
    index = TopicIndex.build(many)
    index.match(make_item(title="word7 and other300 and nothing else"))
    assert index.last_evaluated == 2


def test_topic_query_error_names_topic_and_field() -> None:
    with pytest.raises(TopicQueryError) as raised:
        TopicIndex.build([topic("parade"), topic("kim", name="bad", exclude="(former")])
    error = raised.value
    assert isinstance(error, QueryError)
    assert (error.topic, error.field, error.column) == ("bad", "exclude", 1)
    assert str(error) == "topic 'bad', exclude: unbalanced parenthesis at column 1"


def test_duplicate_topic_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate topic names: t"):
        TopicIndex.build([topic("a"), topic("b")])


def test_explain_a_match() -> None:
    index = TopicIndex.build([topic("(kim OR xi) NEAR/5 beijing", exclude="former")])
    item = make_item(title="Kim arrives in Beijing")
    explanation = index.explain("t", item)
    assert explanation.matched
    assert not explanation.excluded
    assert explanation.indexed and explanation.in_scope
    assert explanation.query.text == "(kim OR xi) NEAR/5 beijing"
    [sides_or, right] = explanation.query.children
    assert [(c.text, c.matched) for c in sides_or.children] == [("kim", True), ("xi", False)]
    assert (right.text, right.matched) == ("beijing", True)
    assert explanation.score == index.match(item)[0].score
    text = format_explanation(explanation)
    assert "topic t: MATCHED" in text
    assert "[yes] (kim OR xi) NEAR/5 beijing" in text
    assert "[no ] xi" in text
    assert "exclude: did not fire" in text
    assert "title[0:3] 'Kim' <- kim" in text


def test_explain_exclusion_and_scope() -> None:
    index = TopicIndex.build([topic("parade", exclude="pride OR carnival", feeds=("tass",))])
    explanation = index.explain("t", make_item(feed="bbc", title="Pride parade"))
    assert not explanation.matched
    assert explanation.excluded
    assert not explanation.in_scope
    text = format_explanation(explanation)
    assert "out of scope: feed 'bbc' is not one of tass" in text
    assert "exclude: fired, the item is excluded" in text


def test_explain_reports_skipped_by_index() -> None:
    index = TopicIndex.build([topic("parade")])
    explanation = index.explain("t", make_item(title="Gold rises"))
    assert not explanation.indexed
    assert "would be skipped" in format_explanation(explanation)


def test_explain_unknown_topic() -> None:
    with pytest.raises(KeyError):
        TopicIndex.build([topic("parade")]).explain("nope", make_item())


def test_topic_is_evaluated_only_when_every_necessary_key_set_is_met() -> None:
    # The term index picks the topic by one side of NEAR; its other side, the other
    # words of a phrase and the AND's other operand are checked before evaluating.
    index = TopicIndex.build(
        [
            topic('kim NEAR/5 "north korea"', name="near"),
            topic('"state visit" AND (beijing OR moscow)', name="and", stemming=True),
        ]
    )
    assert index.match(make_item(title="Kim Kardashian in Paris")) == []
    assert index.last_evaluated == 0
    assert index.match(make_item(title="South Korea's Kim: a state visit to Seoul")) == []
    assert index.last_evaluated == 0
    found = index.match(make_item(title="Kim of North Korea on a state visit to Moscow"))
    assert [match.topic for match in found] == ["near", "and"]
    assert index.last_evaluated == 2
    # Met but false (too far apart): evaluated, and still no match.
    assert index.match(make_item(title="Kim " + "word " * 10 + "North Korea")) == []
    assert index.last_evaluated == 1


def test_requirements_of_queries() -> None:
    def clauses(query: str, stemming: bool = False) -> list[set[str]]:
        root = parse_query(query, stemming=stemming).root
        return [{f"{kind}:{text}" for kind, text in clause} for clause in requirements(root)]

    assert clauses('"kim jong un"') == [{"word:jong"}, {"word:kim"}, {"word:un"}]
    assert clauses("(a OR b) NEAR/3 (cat OR dog*)") == [
        {"word:a", "word:b"},
        {"word:cat", "prefix:dog"},
    ]
    assert clauses("travel NOT pride", stemming=True) == [{"stem:travel"}]
    assert clauses("NOT pride OR parade") == []
    # Small ORs combine their children's clauses; "x y" needs x and y, so "x y OR z" needs
    # x or z and y or z.
    assert clauses('"x y" OR z') == [{"word:x", "word:z"}, {"word:y", "word:z"}]


def test_what_matching_keeps_on_query_nodes_does_not_carry_over_between_items() -> None:
    # A small OR's gates and a term's spelling are kept on the query's nodes, shared
    # by every item; what an item holds (its stems, its places) is kept on its text
    # only. Items matched one after another by one index, in either order, get what
    # a fresh index gives each of them.
    topics = [
        topic('(kim OR putin OR "state visit") NEAR/5 (arriv* OR parade)', name="near"),
        topic("(travel OR arrive OR summit) AND NOT cancelled", name="stems", stemming=True),
        topic("kim OR xi", name="plain", exclude="parade OR summit"),
    ]
    items = [
        make_item(key="a", title="Kim travelled to Moscow", summary="Putin arrived for a parade"),
        make_item(key="b", title="Travels of Xi", summary="A state visit: Kim arrives, a parade"),
        make_item(key="c", title="Nothing to see", summary="summit cancelled, travel too"),
        make_item(key="d", title="Summit", summary="Kim"),
    ]
    fresh = {item.key: TopicIndex.build(topics).match(item) for item in items}
    for order in (items, items[::-1]):
        shared = TopicIndex.build(topics)
        for item in order + order:
            assert shared.match(item) == fresh[item.key], item.key
    stemmed = {m.topic: m for m in fresh["a"]}["stems"]
    # A stem's places are the item's words with that stem, each in its own field.
    assert [(hit.field, hit.term) for hit in stemmed.hits] == [
        ("title", "travel"),
        ("summary", "arrive"),
    ]
    assert [m.topic for m in fresh["c"]] == []
    assert [m.topic for m in fresh["d"]] == ["stems"]  # "plain" excluded by its "summit"


def test_a_stemming_term_hits_every_word_of_its_stem_in_the_item() -> None:
    # An item's words by stem are made in one go when no two share a stem, and
    # word by word when some do ("leaders", "leader"): either way every place counts.
    index = TopicIndex.build([topic("leader AND summit", stemming=True)])
    title = "Leaders arrive; one leader speaks"
    [found] = index.match(make_item(title=title, summary="The summits open"))
    assert [(hit.field, title[hit.start : hit.end]) for hit in found.hits[:2]] == [
        ("title", "Leaders"),
        ("title", "leader"),
    ]
    [alone] = index.match(make_item(title="A leader speaks", summary="At the summit"))
    assert [(hit.field, hit.start, hit.end) for hit in alone.hits] == [
        ("title", 2, 8),
        ("summary", 7, 13),
    ]


def test_a_wildcard_hits_every_word_it_starts_in_the_fields_searched() -> None:
    # A wildcard's words are looked up once for the item, in all its fields; its hits
    # are their places in the fields the query searches, whether it starts one word
    # of the item, several or none.
    index = TopicIndex.build(
        [topic("arriv* OR zzz", name="any"), topic("title:arriv* AND parade", name="title")]
    )
    title = "Arrival of Kim; Xi arrives"
    summary = "They arrived for a parade. Arrears."
    [first, second] = index.match(make_item(title=title, summary=summary))
    assert first.topic == "any"
    fields = {"title": title, "summary": summary}
    assert [(hit.field, fields[hit.field][hit.start : hit.end]) for hit in first.hits] == [
        ("title", "Arrival"),
        ("title", "arrives"),
        ("summary", "arrived"),
    ]
    assert second.topic == "title"
    assert [fields[hit.field][hit.start : hit.end] for hit in second.hits] == [
        "Arrival",
        "arrives",
        "parade",
    ]
    # One word that starts it, only in a field the second topic does not search.
    assert [m.topic for m in index.match(make_item(title="Kim", summary="arrived: parade"))] == [
        "any"
    ]
    assert index.match(make_item(title="Arrears", summary="a parade")) == []


def test_an_exclusion_is_decided_in_the_fields_it_searches() -> None:
    # An exclusion's phrase and NEAR are found as a query's are: in one field, in
    # the fields searched (not the feed's name), whatever else the item holds.
    exclude = '"former leader" OR (pride NEAR/3 parade)'
    index = TopicIndex.build([topic("kim OR xi", exclude=exclude)])
    for feed, title, summary, kept in [
        ("news", "Kim speaks", "the former minister", True),
        ("news", "Kim, former leader", "", False),
        ("news", "Xi at a pride parade", "", False),
        ("news", "Xi at a pride event", "the parade is later", True),  # too far apart
        ("pride parade", "Xi, a leader", "a former", True),  # words in the feed's name only
    ]:
        matches = index.match(make_item(feed=feed, title=title, summary=summary))
        assert bool(matches) is kept, title


def test_an_ors_near_and_and_children_are_skipped_when_the_item_lacks_their_words() -> None:
    query = "kim OR (putin NEAR/3 (arrives OR lands)) OR (xi AND summit*) OR title:(modi visit)"
    index = TopicIndex.build([topic(query)])
    [compiled] = index._topics
    assert isinstance(compiled.query.root, Or)
    needs = {type(gate[0]).__name__: set(gate[4]) for gate in compiled.query.root.gates or ()}
    # The sets of words a child needs one of each, as the index's requirements; a
    # wildcard's clause is not of words, and a term has its own gate.
    assert needs == {
        "Phrase": set(),
        "Near": {frozenset({"putin"}), frozenset({"arrives", "lands"})},
        "And": {frozenset({"xi"})},
        "Scoped": {frozenset({"modi"}), frozenset({"visit"})},
    }
    for title, summary, matched in [
        ("Putin lands in Ankara", "", True),
        ("Putin speaks", "Nobody arrives", False),  # "arrives" too far from "Putin"
        ("Putin speaks", "", False),
        ("Xi at the summits", "", True),
        ("Xi speaks", "", False),
        ("Modi on a visit", "", True),
        ("Modi speaks", "a visit", False),  # title only
        ("Kim", "", True),
    ]:
        item = make_item(title=title, summary=summary)
        assert bool(index.match(item)) is matched, title
        # The same answer from the query parsed anew, whose gates need nothing.
        assert find(parse_query(query).root, ItemText(item)).matched is matched, title


def test_a_lists_first_word_index_is_built_once_with_the_topic_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []
    real_init = alternatives.OrIndex.__init__

    def counting(self: alternatives.OrIndex, node: Or) -> None:
        built.append(len(node.children))
        time.sleep(0.01)  # long enough for every thread below to ask meanwhile
        real_init(self, node)

    monkeypatch.setattr(alternatives.OrIndex, "__init__", counting)
    big = Or(tuple(Phrase((Word(f"w{number}"),), f"w{number}") for number in range(500)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        indexes = list(pool.map(lambda _: alternatives.or_index(big), range(8)))
    assert built == [500] and all(index is indexes[0] for index in indexes)
    # A topic naming a list: its index is built by TopicIndex.build, not on a match.
    # A list of this test's own (a fresh name and terms): a shipped list's index may
    # already be built by an earlier test in the same process, compiled lists being
    # shared within it.
    own = f"towns-{uuid.uuid4().hex}"
    terms = [f"Town{number} {uuid.uuid4().hex[:6]}" for number in range(150)] + ["Paris"]
    index = TopicIndex.build([topic(f"@{own} AND visit")], {own: ListConfig(terms=terms)})
    after_build = len(built)
    assert max(built[1:after_build], default=0) > 100  # the list's
    assert index.match(make_item(title="A visit to Paris", summary="Talks in Paris."))
    assert all(size < 100 for size in built[after_build:])
