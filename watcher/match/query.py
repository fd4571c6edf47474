"""The topic query language: lexer, parser and syntax tree.

A query is made of

``travel``                a term; matches the word in any case, with or without accents
``"state visit"``         a phrase: the words in this order, next to each other
``arriv*``                a prefix wildcard (at least 3 letters before the ``*``)
``kim jong-un``           adjacent terms are ANDed; a term with hyphens is a phrase
``a AND b``, ``a OR b``   boolean operators (upper case; lower-case "and" is a word)
``NOT a``                 negation; ``a NOT b`` means ``a AND NOT b``
``(a OR b) c``            parentheses group
``a NEAR/5 b``            both within 5 words of each other, in either order, in the
                          same field; plain ``NEAR`` means ``NEAR/10``. Either side may
                          be a term, a phrase, a group of alternatives or another NEAR
``@leaders``              a named list (``watcher.knowledge``): any of its terms, each
                          matched as written, as a quoted phrase would be; Cyrillic
                          words also match their inflected forms
``a ABROAD/15 b``         like ``NEAR/15``, and the countries of the list terms that
                          hit on the left share none with those on the right: a
                          leader of one country placed in another (plain ``ABROAD``
                          means ``ABROAD/10``)
``title:kim``             field scoping: title, summary, content, feed or tag; applies
                          to the term, phrase or group right after the colon. Without
                          a field a term searches title, summary and content.

Precedence, tightest first: field scoping, NEAR and ABROAD, NOT, AND (explicit or implicit),
OR. So ``a b OR c`` is ``(a AND b) OR c``.

Terms in Chinese, Japanese or Korean match as substrings (see ``text``); a ``*``
after them changes nothing. With ``stemming`` a bare English term also matches the
other forms of its word (``travel`` finds "travelled"); quoted phrases and
wildcards match as written.

Malformed queries raise ``QueryError`` with the 1-based column of the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from watcher.exceptions import QueryError
from watcher.knowledge import EntityList, shipped_lists
from watcher.match.compiled_lists import list_alternatives
from watcher.match.nodes import (
    INDEXED_OR_CHILDREN,
    And,
    ListRef,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Scoped,
    Word,
)
from watcher.match.stem import stem_token
from watcher.match.text import FIELDS, is_cjk, words

__all__ = [
    "And", "ListRef", "Near", "Node", "Not", "Or", "Phrase", "Query", "Scoped", "Word",
    "describe", "is_positional", "parse_query",
]  # fmt: skip

DEFAULT_NEAR_DISTANCE = 10
MAX_NEAR_DISTANCE = 100
MIN_WILDCARD_PREFIX = 3
MAX_NESTING = 50

_OPERATORS = frozenset({"AND", "OR", "NOT"})
# Typographic quotes are what word processors and phones type for ".
_CLOSING_QUOTE = {'"': '"', "“": "”", "„": "“", "«": "»"}
_FIELD_PREFIX = re.compile(r"([A-Za-z_]+):")
_NEAR = re.compile(r"(NEAR|ABROAD)(?:/(.*))?$")
_LIST_REF = re.compile(r"@([a-z0-9][a-z0-9_-]*)$")


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: its syntax tree and the text it came from."""

    root: Node
    text: str
    stemming: bool = False

    def __str__(self) -> str:
        return describe(self.root)


def describe(node: Node) -> str:
    """Canonical text of ``node``: folded words, explicit operators, needed parentheses."""
    if isinstance(node, Phrase):
        spelled = ""
        for word in node.words:
            # CJK characters are one token each but read as one word.
            if spelled and not (is_cjk(spelled[-1]) and is_cjk(word.text)):
                spelled += " "
            spelled += word.text + ("*" if word.prefix else "")
        return f'"{spelled}"' if " " in spelled else spelled
    if isinstance(node, And):
        return " AND ".join(_describe_operand(child, Or) for child in node.children)
    if isinstance(node, Or):
        return " OR ".join(describe(child) for child in node.children)
    if isinstance(node, Not):
        return "NOT " + _describe_operand(node.child, And, Or, Near)
    if isinstance(node, Near):
        left = _describe_operand(node.left, And, Or)
        right = _describe_operand(node.right, And, Or, Near)
        operator = "ABROAD" if node.abroad else "NEAR"
        return f"{left} {operator}/{node.distance} {right}"
    if isinstance(node, ListRef):
        return f"@{node.name}"
    return f"{node.field}:" + _describe_operand(node.child, And, Or, Not, Near)


def _describe_operand(node: Node, *grouped: type) -> str:
    text = describe(node)
    return f"({text})" if isinstance(node, grouped) else text


def is_positional(node: Node) -> bool:
    """Whether ``node`` matches at places in the text (so it can be a side of NEAR)."""
    if isinstance(node, Phrase | Near | ListRef):
        return True
    if isinstance(node, Or):
        return all(is_positional(child) for child in node.children)
    if isinstance(node, Scoped):
        return is_positional(node.child)
    return False


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: str  # "(", ")", "word", "phrase", "field", "list", "AND", "OR", "NOT", "NEAR"
    text: str
    column: int
    distance: int = 0
    abroad: bool = False


def _lex(text: str) -> list[_Lexeme]:
    lexemes: list[_Lexeme] = []
    index = 0
    while index < len(text):
        char = text[index]
        column = index + 1
        if char.isspace():
            index += 1
        elif char in "()":
            lexemes.append(_Lexeme(char, char, column))
            index += 1
        elif char in _CLOSING_QUOTE:
            closing = (_CLOSING_QUOTE[char], '"')
            end = next((i for i in range(index + 1, len(text)) if text[i] in closing), -1)
            if end < 0:
                raise QueryError("unterminated quote", column)
            lexemes.append(_Lexeme("phrase", text[index + 1 : end], column))
            index = end + 1
        else:
            end = index
            while end < len(text) and not (
                text[end].isspace() or text[end] in "()" or text[end] in _CLOSING_QUOTE
            ):
                end += 1
            chunk = text[index:end]
            field = _FIELD_PREFIX.match(chunk)
            if field:
                name = field.group(1).lower()
                if name not in FIELDS:
                    raise QueryError(
                        f"unknown field {field.group(1)!r} (use {', '.join(FIELDS)})", column
                    )
                lexemes.append(_Lexeme("field", name, column))
                index += len(field.group(0))
                continue
            lexemes.append(_lex_word(chunk, column))
            index = end
    return lexemes


def _lex_word(chunk: str, column: int) -> _Lexeme:
    if chunk in _OPERATORS:
        return _Lexeme(chunk, chunk, column)
    if chunk.startswith("@"):
        reference = _LIST_REF.match(chunk)
        if reference is None:
            raise QueryError(
                f"bad list name {chunk!r} (lower-case letters, digits, - and _)", column
            )
        return _Lexeme("list", reference.group(1), column)
    near = _NEAR.match(chunk)
    if near is None:
        return _Lexeme("word", chunk, column)
    operator, distance = near.group(1), near.group(2)
    abroad = operator == "ABROAD"
    if distance is None:
        return _Lexeme("NEAR", chunk, column, DEFAULT_NEAR_DISTANCE, abroad)
    if not distance.isdecimal() or not 1 <= int(distance) <= MAX_NEAR_DISTANCE:
        raise QueryError(
            f"bad {operator} distance {distance!r} "
            f"(use {operator}/1 to {operator}/{MAX_NEAR_DISTANCE})",
            column + len(operator) + 1,
        )
    return _Lexeme("NEAR", chunk, column, int(distance), abroad)


def _words_of(chunk: str, column: int, stemming: bool) -> list[Word]:
    """The words of one whitespace-free piece of a term or phrase."""
    star = chunk.find("*")
    if 0 <= star < len(chunk) - 1:
        raise QueryError("wildcard * is only allowed at the end of a term", column + star)
    prefix = star == len(chunk) - 1
    found = words(chunk[:-1] if prefix else chunk)
    if not found:
        if prefix:
            raise QueryError(
                f"wildcard needs at least {MIN_WILDCARD_PREFIX} characters before *", column
            )
        return []
    if prefix and is_cjk(found[-1]):
        # CJK terms already match as substrings; the star adds nothing.
        prefix = False
    if prefix and len(found[-1]) < MIN_WILDCARD_PREFIX:
        raise QueryError(
            f"wildcard needs at least {MIN_WILDCARD_PREFIX} characters before *", column
        )
    result = [Word(word, stem=stem_token(word) if stemming else None) for word in found]
    if prefix:
        result[-1] = Word(found[-1], prefix=True)
    return result


class _Parser:
    def __init__(
        self, text: str, stemming: bool, lists: Mapping[str, EntityList] | None = None
    ) -> None:
        self.text = text
        self.stemming = stemming
        self.lists = lists
        self.lexemes = _lex(text)
        self.position = 0
        self.depth = 0

    def peek(self) -> _Lexeme | None:
        return self.lexemes[self.position] if self.position < len(self.lexemes) else None

    def previous(self) -> _Lexeme | None:
        return self.lexemes[self.position - 1] if self.position > 0 else None

    def advance(self) -> _Lexeme:
        lexeme = self.lexemes[self.position]
        self.position += 1
        return lexeme

    def parse(self) -> Node:
        if not self.lexemes:
            raise QueryError("empty query", 1)
        node = self.parse_or()
        leftover = self.peek()
        if leftover is not None:
            # parse_or stops only at ")" it cannot pair, or at the end.
            raise QueryError("unbalanced parenthesis", leftover.column)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (lexeme := self.peek()) is not None and lexeme.kind == "OR":
            self.advance()
            children.append(self.parse_and())
        if len(children) == 1:
            return children[0]
        flat = [alternative for child in children for alternative in _alternatives(child)]
        # "(a OR b) OR c" is the OR of a, b and c: tried in one loop, not one per
        # group, unless that would make it an OR big enough to be indexed, which
        # pays for itself only with tens of alternatives (issue #18).
        return Or(tuple(flat if len(flat) < INDEXED_OR_CHILDREN else children))

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while (lexeme := self.peek()) is not None and lexeme.kind in (
            "AND", "NOT", "word", "phrase", "field", "list", "(",
        ):  # fmt: skip
            if lexeme.kind == "AND":
                self.advance()
            children.append(self.parse_not())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_not(self) -> Node:
        lexeme = self.peek()
        if lexeme is not None and lexeme.kind == "NOT":
            self.advance()
            return Not(self.parse_not())
        return self.parse_near()

    def parse_near(self) -> Node:
        left = self.parse_primary()
        while (lexeme := self.peek()) is not None and lexeme.kind == "NEAR":
            self.advance()
            right = self.parse_primary()
            if not (is_positional(left) and is_positional(right)):
                operator = "ABROAD" if lexeme.abroad else "NEAR"
                raise QueryError(
                    f"{operator} needs a term, phrase or OR-group on each side",
                    lexeme.column,
                )
            left = Near(left, right, lexeme.distance, lexeme.abroad)
        return left

    def parse_primary(self) -> Node:
        lexeme = self.peek()
        if lexeme is None or lexeme.kind in ("AND", "OR", "NEAR", ")"):
            raise self.missing_operand(lexeme)
        if lexeme.kind == "NOT":
            previous = self.previous()
            if previous is not None and previous.kind == "NEAR":
                raise QueryError(
                    "NEAR needs a term, phrase or OR-group on each side", previous.column
                )
            # After a field: "title:NOT x" has no single operand to scope.
            raise self.missing_operand(lexeme)
        self.advance()
        if lexeme.kind == "field":
            return Scoped(lexeme.text, self.parse_primary())
        if lexeme.kind == "list":
            lists = shipped_lists() if self.lists is None else self.lists
            entities = lists.get(lexeme.text)
            if entities is None:
                raise QueryError(
                    f"unknown list @{lexeme.text} (known: {', '.join(sorted(lists))})",
                    lexeme.column,
                )
            return ListRef(lexeme.text, entities, list_alternatives)
        if lexeme.kind == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise QueryError("parentheses nested too deeply", lexeme.column)
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError("unbalanced parenthesis", lexeme.column)
            self.advance()
            self.depth -= 1
            return node
        return self.phrase(lexeme)

    def missing_operand(self, lexeme: _Lexeme | None) -> QueryError:
        previous = self.previous()
        if previous is not None and previous.kind in ("AND", "OR", "NOT", "NEAR"):
            return QueryError(f"dangling operator {previous.kind}", previous.column)
        if previous is not None and previous.kind == "field":
            return QueryError(
                f"field {previous.text}: needs a term, phrase or group after it",
                previous.column,
            )
        if previous is not None and previous.kind == "(":
            if lexeme is not None and lexeme.kind == ")":
                return QueryError("empty parentheses", previous.column)
            if lexeme is None:
                return QueryError("unbalanced parenthesis", previous.column)
        if lexeme is not None and lexeme.kind == ")":
            return QueryError("unbalanced parenthesis", lexeme.column)
        if lexeme is not None:
            return QueryError(f"dangling operator {lexeme.kind}", lexeme.column)
        return QueryError("empty query", 1)

    def phrase(self, lexeme: _Lexeme) -> Node:
        found: list[Word] = []
        if lexeme.kind == "phrase":
            # Quoted words match as written: no stemming inside quotes.
            for piece in re.finditer(r"\S+", lexeme.text):
                found += _words_of(piece.group(), lexeme.column + 1 + piece.start(), False)
            if not found:
                raise QueryError("empty phrase", lexeme.column)
        else:
            found = _words_of(lexeme.text, lexeme.column, self.stemming)
            if not found:
                raise QueryError(f"term {lexeme.text!r} has no letters or digits", lexeme.column)
        return Phrase(tuple(found), lexeme.text)


def parse_query(
    text: str, *, stemming: bool = False, lists: Mapping[str, EntityList] | None = None
) -> Query:
    """Parse ``text`` into a ``Query``; raise ``QueryError`` (with its column) if malformed.

    ``@name`` refers to ``lists`` (the shipped lists when None).
    """
    return Query(_Parser(text, stemming, lists).parse(), text, stemming)


def _alternatives(node: Node) -> tuple[Node, ...]:
    """What ``node`` stands for as an OR's child: an OR's children, else itself."""
    return tuple(node.children) if isinstance(node, Or) else (node,)
