"""YAML text -> plain Python values that remember where in the file they were written.

``load_marked_yaml`` parses with PyYAML's safe loader, records the position of every
value and key, reports duplicate keys and replaces ``${NAME}`` / ``${NAME:-default}``
in string values from the environment passed in. ``MarkedDocument`` then turns
problems found later (by pydantic or by ``config``'s own checks) into one-line
``FILE:LINE:COLUMN: PATH: MESSAGE`` reports without showing values that came
from the environment. What the document must contain is ``config``'s business.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml
from pydantic_core import ErrorDetails
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

Loc = tuple[str | int, ...]
"""Where a value sits in the document: mapping keys and list indexes from the top."""

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# "$${" is an escaped, literal "${"; a "${" that is not a well-formed reference is an error
# rather than silently kept, so a typo like "${SMTP_PASSWORD" cannot become a password.
_REFERENCE = re.compile(
    r"\$\$\{|\$\{(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})?"
)


# What one document may make the loader build (issue #16). An alias repeats the value
# it names, so a few hundred bytes of nested aliases ("billion laughs") stand for
# billions of values; a feeds.yaml that shares settings repeats a few thousand.
MAX_ALIASED_VALUES = 100_000
# Composing and walking recurse once per level; a configuration is about 5 deep.
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A 1-based line and column in the YAML text."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class LocatedProblem:
    """One thing wrong with the document: where it is, which value, what is wrong."""

    position: Position
    loc: Loc
    message: str


@dataclass(slots=True)
class MarkedDocument:
    """A parsed document and, for every value in it, where it was written.

    ``values`` maps each value's loc to the start of its node; ``keys`` maps the loc
    of each mapping entry to the start of its key. ``from_environment`` holds the locs
    of strings that contained ``${...}``; ``unresolved`` the subset naming a variable
    that is not set (their value is then an empty string and should not be judged).
    """

    data: object = None
    values: dict[Loc, Position] = field(default_factory=dict)
    keys: dict[Loc, Position] = field(default_factory=dict)
    from_environment: set[Loc] = field(default_factory=set)
    unresolved: set[Loc] = field(default_factory=set)
    problems: list[LocatedProblem] = field(default_factory=list)

    def position(self, loc: Loc) -> Position:
        """Where the value at ``loc`` starts, else the nearest enclosing value."""
        # Validation reports below the deepest node (or on a missing one): use the nearest.
        while loc not in self.values:
            loc = loc[:-1]
        return self.values[loc]

    def key_problem(self, loc: Loc, message: str) -> LocatedProblem:
        """A problem with the key of the entry at ``loc``, reported on its mapping."""
        position = self.keys.get(loc) or self.position(loc)
        return LocatedProblem(position, loc[:-1], message)

    def validation_problems(
        self, errors: list[ErrorDetails], known_keys: Callable[[Loc], Collection[str]]
    ) -> list[LocatedProblem]:
        """Pydantic's errors as located problems in plain words.

        ``known_keys`` gives the keys a mapping allows, to suggest one for a misspelt key.
        """
        problems = []
        for detail in errors:
            loc: Loc = tuple(detail["loc"])
            kind = detail["type"]
            if kind == "missing":
                message = f"missing required key {loc[-1]!r}"
                problems.append(LocatedProblem(self.position(loc[:-1]), loc[:-1], message))
            elif kind == "extra_forbidden":
                key = str(loc[-1])
                hint = did_you_mean(key, known_keys(loc[:-1]))
                problems.append(self.key_problem(loc, f"unknown key {key!r}{hint}"))
            elif kind == "too_short" and len(detail["input"]) >= detail["ctx"]["min_length"]:
                continue  # only short once its invalid items were dropped: those are reported
            else:
                problems.append(LocatedProblem(self.position(loc), loc, _describe(detail)))
        return problems

    def judged(self, problems: list[LocatedProblem]) -> list[LocatedProblem]:
        """``problems`` less those about values whose environment variable is unset.

        Such a value is reported as unset, not judged as the empty text standing in for it.
        """
        return [
            problem
            for problem in problems
            if not any(problem.loc[: len(loc)] == loc for loc in self.unresolved)
        ]

    def describe(
        self,
        source: str,
        problem: LocatedProblem,
        names: Mapping[Loc, str],
        secrets: Collection[Loc] = (),
    ) -> str:
        """``problem`` as ``SOURCE:LINE:COLUMN: PATH: MESSAGE``.

        ``names`` maps the loc of a list entry to the name that stands for its index in
        PATH (``feeds.bbc`` rather than ``feeds[0]``). The value at the problem's loc is
        hidden from the message when it came from the environment or is in ``secrets``.
        """
        message = problem.message
        if problem.loc in self.from_environment or problem.loc in secrets:
            message = _hide(message, self.value_at(problem.loc))
        line, column = problem.position.line, problem.position.column
        return f"{source}:{line}:{column}: {_path(problem.loc, names)}: {message}"

    def value_at(self, loc: Loc) -> object:
        """The value at ``loc``, or None when there is none."""
        value = self.data
        for part in loc:
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and isinstance(part, int) and part < len(value):
                value = value[part]
            else:
                return None
        return value


def _position_of(mark: yaml.Mark) -> Position:
    """PyYAML's 0-based mark as a 1-based position."""
    return Position(mark.line + 1, mark.column + 1)


def describe_yaml_error(source: str, text: str, error: yaml.YAMLError) -> str:
    """A YAML parse error in ``text`` as one line, ``SOURCE:LINE:COLUMN: invalid YAML: ...``."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark, message = error.problem_mark, str(error.problem)
        if error.context and error.context_mark:
            message += f" ({error.context} on line {error.context_mark.line + 1})"
        plain = _indentation_in_plain_words(str(error.problem), error.context_mark, mark, text)
        if plain:
            message = f"{plain} [YAML: {message}]"
        return f"{source}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {message}"
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1
        column = error.position - text.rfind("\n", 0, error.position)
        message = f"character #x{error.character:04x} is not allowed"
        return f"{source}:{line}:{column}: invalid YAML: {message}"
    return f"{source}: invalid YAML: {' '.join(str(error).split())}"


def _indentation_in_plain_words(
    problem: str, context_mark: yaml.Mark | None, mark: yaml.Mark, text: str
) -> str | None:
    """What PyYAML's indentation errors mean, in words a first-time user can act on."""
    if "'\\t'" in problem or "\t" in problem:
        return "a tab character: YAML indents with spaces only"
    lines = text.splitlines()
    if problem.startswith("mapping values are not allowed"):
        return (
            "this line is indented further than the key above it, so YAML reads it as part "
            "of that key's value; line it up with the keys above (or quote a value that "
            "contains ': ')"
        )
    if problem.startswith("expected <block end>") and context_mark is not None:
        started = context_mark.line + 1
        opener = lines[context_mark.line] if context_mark.line < len(lines) else ""
        first_key = len(opener) - len(opener.lstrip(" -")) if opener.strip() else 0
        return (
            f"this line is indented by {mark.column} spaces, which lines up with nothing "
            f"in the block that starts on line {started} (its keys are indented by "
            f"{first_key}); indent it like the keys it belongs with"
        )
    if problem.startswith("could not find expected ':'"):
        return "a line that is not 'key: value' (a missing ':' or a wrongly indented line)"
    return None


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word``, or ``""``."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_marked_yaml(text: str, environ: Mapping[str, str]) -> MarkedDocument:
    """Parse one YAML document into plain values with the position of each.

    ``data`` is None for a document with no content (empty or only comments).
    Problems inside an otherwise readable document (duplicate keys, unset variables,
    unsupported tags, recursive aliases) are collected in ``problems``.

    Raises yaml.YAMLError when the text is not well-formed YAML.
    """
    # libyaml scans and parses 2,000 sources' feeds.yaml in a fifth of PyYAML's time
    # (every command loads it); what it refuses is read again by PyYAML, the reference
    # reader, whose error messages the plain-words explanations above are written for.
    loader, root = _compose(_FAST_LOADER or _BoundedLoader, text)
    document = MarkedDocument()
    if root is not None:
        document.data = _Walk(loader, environ, document).value(root, (), frozenset())
    return document


def _compose(loader_class: type[_Loader], text: str) -> tuple[_Loader, Node | None]:
    """The loader and the root node, by ``loader_class`` (or by PyYAML's if it refuses)."""
    loader = loader_class(text)
    try:
        root: Node | None = loader.get_single_node()
        return loader, root
    except yaml.YAMLError as error:
        if loader_class is _BoundedLoader or _is_budget_error(error):
            raise
    finally:
        loader.dispose()
    return _compose(_BoundedLoader, text)


def _is_budget_error(error: yaml.YAMLError) -> bool:
    """Whether ``error`` is the alias or depth budget's own refusal (final either way)."""
    return isinstance(error, ComposerError) and error.context is None and error.context_mark is None


class _Bounds:
    """Composing that refuses documents past MAX_ALIASED_VALUES or MAX_DEPTH, before
    anything is expanded, naming the line where it stopped (mixed into a loader)."""

    _sizes: dict[int, int]  # id(node) -> values it stands for, aliases expanded
    _aliased: int
    _depth: int

    def _start_budget(self) -> None:
        self._sizes = {}
        self._aliased = 0
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        mark = self.peek_event().start_mark  # type: ignore[attr-defined]
        if self.check_event(AliasEvent):  # type: ignore[attr-defined]
            node: Node | None = super().compose_node(parent, index)  # type: ignore[misc]
            # An alias of a value still being composed (a recursive one) counts as one;
            # the walk reports it.
            self._aliased += self._sizes.get(id(node), 1)
            if self._aliased > MAX_ALIASED_VALUES:
                raise ComposerError(
                    None,
                    None,
                    f"aliases here repeat more than {MAX_ALIASED_VALUES:,} values in all "
                    "(a YAML bomb?); write the values out instead",
                    mark,
                )
            return node
        if self._depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"values nested more than {MAX_DEPTH} deep", mark)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1
        if node is not None:
            self._sizes[id(node)] = 1 + sum(
                self._sizes.get(id(child), 1) for child in _children(node)
            )
        return node


class _BoundedLoader(_Bounds, yaml.SafeLoader):
    """PyYAML's safe loader, all Python, with the composing budget."""

    def __init__(self, text: str) -> None:
        yaml.SafeLoader.__init__(self, text)
        self._start_budget()


class _Loader(Protocol):
    """What the walk needs of a loader: composing, and constructing scalars."""

    def __init__(self, text: str) -> None: ...
    def get_single_node(self) -> Node | None: ...
    def dispose(self) -> None: ...
    def construct_object(self, node: Node, deep: bool = False) -> Any: ...
    def flatten_mapping(self, node: MappingNode) -> None: ...


_FAST_LOADER: type[_Loader] | None = None
if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _FastLoader(_Bounds, Composer, CParser, SafeConstructor, Resolver):
        """libyaml's scanner and parser (C) under PyYAML's composer (Python, so the
        budget above applies) and the safe constructor: the same nodes and marks."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start_budget()

    _FAST_LOADER = _FastLoader


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Walk:
    def __init__(
        self, loader: _Loader, environ: Mapping[str, str], document: MarkedDocument
    ) -> None:
        self.loader = loader
        self.environ = environ
        self.document = document

    def problem(self, node: Node, loc: Loc, message: str) -> None:
        self.document.problems.append(LocatedProblem(_position_of(node.start_mark), loc, message))

    def value(self, node: Node, loc: Loc, active: frozenset[int]) -> object:
        self.document.values[loc] = _position_of(node.start_mark)
        if id(node) in active:
            self.problem(node, loc, "an alias refers to the value that contains it")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, loc)
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            self.problem(node, loc, f"unsupported YAML tag {node.tag!r}")
            return None
        inside = active | {id(node)}
        if isinstance(node, SequenceNode):
            items = enumerate(node.value)
            return [self.value(item, (*loc, index), inside) for index, item in items]
        assert isinstance(node, MappingNode)
        return self.mapping(node, loc, inside)

    def scalar(self, node: ScalarNode, loc: Loc) -> object:
        if node.tag == _STR_TAG:
            return self.interpolate(node, loc)
        try:
            return self.loader.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.problem(node, loc, str(exc.problem))
            return None

    def interpolate(self, node: ScalarNode, loc: Loc) -> str:
        text: str = node.value
        if "${" not in text:
            return text
        self.document.from_environment.add(loc)
        pieces: list[str] = []
        end = 0
        for reference in _REFERENCE.finditer(text):
            pieces.append(text[end : reference.start()])
            end = reference.end()
            name, default = reference.group("name"), reference.group("default")
            if reference.group() == "$${":
                pieces.append("${")
            elif name is None:
                malformed = "malformed '${' (write ${NAME} or ${NAME:-default}; '$${' for a '${')"
                self.problem(node, loc, malformed)
                self.document.unresolved.add(loc)
            elif self.environ.get(name):
                pieces.append(self.environ[name])
            elif default is not None:
                # As in the shell, ":-" also replaces a variable that is set but empty.
                pieces.append(default)
            elif name in self.environ:
                pieces.append("")
            else:
                self.problem(node, loc, f"environment variable {name} is not set")
                self.document.unresolved.add(loc)
        pieces.append(text[end:])
        return "".join(pieces)

    def mapping(self, node: MappingNode, loc: Loc, active: frozenset[int]) -> dict[str, object]:
        own_entries = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
        try:
            self.loader.flatten_mapping(node)
        except ConstructorError as exc:
            mark = exc.problem_mark or node.start_mark
            problem = LocatedProblem(_position_of(mark), loc, str(exc.problem))
            self.document.problems.append(problem)
        merged_entries = len(node.value) - own_entries
        # Later entries win, as in PyYAML; merged ("<<") entries come first so own keys
        # override them. Only a key repeated among the mapping's own entries is a mistake.
        winners: dict[str, tuple[ScalarNode, Node, bool]] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, loc, "a key must be a plain value, not a list or mapping")
                continue
            # The key's text as written: "on:" or "1:" stay the strings "on" and "1".
            key = str(key_node.value)
            if index >= merged_entries and key in winners and winners[key][2]:
                self.problem(key_node, loc, f"duplicate key '{key}'")
            winners[key] = (key_node, value_node, index >= merged_entries)
        result: dict[str, object] = {}
        for key, (key_node, value_node, _) in winners.items():
            self.document.keys[(*loc, key)] = _position_of(key_node.start_mark)
            result[key] = self.value(value_node, (*loc, key), active)
        return result


_MESSAGES = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "dict_type": "expected a mapping (key: value)",
    "too_short": "must not be empty",
}
_BOUNDS = {
    "greater_than": "greater than",
    "greater_than_equal": "at least",
    "less_than": "less than",
    "less_than_equal": "at most",
}


def _describe(detail: ErrorDetails) -> str:
    kind, context = detail["type"], detail.get("ctx", {})
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "string_type":
        # YAML reads 2024, 1.0, yes and on as numbers and booleans unless quoted.
        quote = isinstance(detail["input"], int | float)
        return "expected text" + (" (put the value in quotes)" if quote else "")
    if kind == "value_error":
        return str(context["error"])
    if kind == "literal_error":
        return f"must be {context['expected']}"
    if kind in _BOUNDS:
        return f"must be {_BOUNDS[kind]} {next(iter(context.values()))}"
    message = detail["msg"].removeprefix("Input should be ")
    return message[:1].lower() + message[1:]


def _path(loc: Loc, names: Mapping[Loc, str]) -> str:
    if loc[:2] in names:
        path, rest = f"{loc[0]}.{names[loc[:2]]}", loc[2:]
    else:
        path, rest = "", loc
    for part in rest:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "top level"


def _hide(message: str, secret: object) -> str:
    if secret is None:
        return message
    message = message.replace(repr(secret), "(hidden value)")
    if str(secret) and str(secret) in message:
        return "invalid value (hidden: it is a password or comes from the environment)"
    return message
