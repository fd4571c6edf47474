"""The query language: parsing (tests/data/match/parse.yaml) and errors (errors.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from watcher.exceptions import QueryError
from watcher.match.query import And, Near, Or, Phrase, Word, describe, parse_query

DATA = Path(__file__).parent / "data" / "match"


def load_cases(name: str) -> list[dict[str, Any]]:
    cases = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    assert isinstance(cases, list)
    return cases


@pytest.mark.parametrize("case", load_cases("parse.yaml"), ids=lambda case: case["query"])
def test_parse_canonical_form(case: dict[str, Any]) -> None:
    assert str(parse_query(case["query"])) == case["canonical"]


@pytest.mark.parametrize("case", load_cases("errors.yaml"), ids=lambda case: case["query"])
def test_malformed_query_names_problem_and_column(case: dict[str, Any]) -> None:
    with pytest.raises(QueryError) as raised:
        parse_query(case["query"])
    assert str(raised.value) == case["error"]
    message, _, column = case["error"].rpartition(" at column ")
    assert raised.value.message == message
    assert raised.value.column == int(column)


def test_query_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_query("kim AND")


def test_stemming_stems_bare_terms_only() -> None:
    root = parse_query('travels "travels" travel*', stemming=True).root
    assert isinstance(root, And)
    assert root.children == (
        Phrase((Word("travels", stem="travel"),), "travels"),
        Phrase((Word("travels"),), "travels"),
        Phrase((Word("travel", prefix=True),), "travel*"),
    )


def test_stemming_skips_non_english_words() -> None:
    root = parse_query("путин 2025", stemming=True).root
    assert isinstance(root, And)
    assert [child.words for child in root.children if isinstance(child, Phrase)] == [
        (Word("путин"),),
        (Word("2025"),),
    ]


def test_near_keeps_distance_and_sides() -> None:
    root = parse_query('"xi jinping" NEAR/7 moscow').root
    assert isinstance(root, Near)
    assert root.distance == 7
    assert describe(root.left) == '"xi jinping"'
    assert describe(root.right) == "moscow"


def test_an_or_of_ors_is_one_or_while_it_stays_small() -> None:
    root = parse_query("(kim OR putin) OR (xi NEAR/3 parade) OR (modi OR lula)").root
    assert isinstance(root, Or)
    assert [describe(child) for child in root.children] == [
        "kim", "putin", "xi NEAR/3 parade", "modi", "lula",
    ]  # fmt: skip
    # Eight alternatives or more make an OR that is indexed (watcher.match.search):
    # the groups are kept, each a small OR of its own.
    big = parse_query("(a OR b OR c OR d) OR (e OR f OR g OR h)").root
    assert isinstance(big, Or)
    assert [describe(child) for child in big.children] == ["a OR b OR c OR d", "e OR f OR g OR h"]


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(QueryError, match="nested too deeply"):
        parse_query("(" * 60 + "kim" + ")" * 60)
