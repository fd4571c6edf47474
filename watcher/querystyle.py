"""Topic queries that YAML quietly changed: the `watcher check` warning.

``exclude: "former president"`` is a double-quoted YAML scalar: YAML removes the
quotes and the query language then reads ``former president``, two words that
must both appear (``former AND president``), not the phrase. Nothing fails, and
items are dropped or kept silently. Whether a value was double-quoted is only
known to the YAML parser, so this reads the file's nodes, not the validated
configuration.
"""

from __future__ import annotations

import re

import yaml

_QUERY_KEYS = ("query", "exclude")
# Anything that shows the author wrote query syntax on purpose, not a phrase.
_OPERATOR = re.compile(r'\b(?:AND|OR|NOT|NEAR(?:/\d+)?)\b|[()"*:]')


def quoted_phrase_warnings(text: str, source: str) -> list[str]:
    """``SOURCE:LINE:COLUMN: warning: ...`` for each topic ``query`` or ``exclude`` written
    as a double-quoted YAML scalar of several words with no operator. Text that is not
    valid YAML gives no warnings (the loader reports it)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    warnings: list[str] = []
    for topic in _topic_nodes(root):
        name = _scalar_value(topic, "name") or "?"
        for key_node, value_node in topic.value:
            if key_node.value not in _QUERY_KEYS or not isinstance(value_node, yaml.ScalarNode):
                continue
            value = value_node.value
            if value_node.style != '"' or len(value.split()) < 2 or _OPERATOR.search(value):
                continue
            mark = value_node.start_mark
            words = " AND ".join(value.split())
            warnings.append(
                f"{source}:{mark.line + 1}:{mark.column + 1}: warning: topics.{name}."
                f"{key_node.value}: YAML took the double quotes, so this reads as {words}, "
                f"not the phrase; write '\"{value}\"' (single quotes outside) for the phrase, "
                f"or {words} to say you meant the words"
            )
    return warnings


def _topic_nodes(root: yaml.Node | None) -> list[yaml.MappingNode]:
    if not isinstance(root, yaml.MappingNode):
        return []
    for key_node, value_node in root.value:
        if key_node.value == "topics" and isinstance(value_node, yaml.SequenceNode):
            return [node for node in value_node.value if isinstance(node, yaml.MappingNode)]
    return []


def _scalar_value(mapping: yaml.MappingNode, key: str) -> str | None:
    for key_node, value_node in mapping.value:
        if key_node.value == key and isinstance(value_node, yaml.ScalarNode):
            return str(value_node.value)
    return None
