"""Checks of the raw document that no single model can make, and schema look-ups.

``cross_problems`` works on the values as read (type-checking each it uses), so it
runs even when field validation failed: names, references between sections,
exclusive options. ``known_keys`` reads the keys a mapping allows from the schema,
for the "did you mean" of an unknown key.
"""

from __future__ import annotations

import types
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from watcher._yamlmarks import Loc, LocatedProblem, MarkedDocument, did_you_mean
from watcher.config.fields import NAME_PATTERN
from watcher.config.schema import WATCH_TOPIC_PREFIX, Config

SECTIONS = {
    "feeds": "feed",
    "pages": "page",
    "watches": "watch",
    "topics": "topic",
    "digests": "digest",
}
_FLAG = TypeAdapter(bool)


def flag(value: object) -> bool | None:
    """The bool validation would make of ``value``, or None if it would refuse it."""
    try:
        return _FLAG.validate_python(value)
    except ValidationError:
        return None


def entries(data: dict[str, object], section: str) -> list[tuple[int, dict[str, object]]]:
    """The mappings among ``section``'s entries, with their index."""
    found = data.get(section)
    if not isinstance(found, list):
        return []
    return [(index, entry) for index, entry in enumerate(found) if isinstance(entry, dict)]


def texts(value: object) -> list[tuple[int, str]]:
    """The strings in ``value`` if it is a list, with their index."""
    items = value if isinstance(value, list) else []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, str)]


def known_keys(loc: Loc) -> list[str]:
    """The keys the schema allows in the mapping at ``loc`` (none if it is no model)."""
    annotation: object = Config
    for part in loc:
        annotation = _inside(annotation, part)
    model = _model(annotation)
    if model is None:
        return []
    return [name for name in model.model_fields if not (model is Config and name == "source")]


def _model(annotation: object) -> type[BaseModel] | None:
    """The model ``annotation`` stands for, looking through Annotated and ``| None``."""
    annotation = _unwrapped(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _unwrapped(annotation: object) -> object:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrapped(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _unwrapped(present[0]) if len(present) == 1 else annotation
    return annotation


def _inside(annotation: object, part: str | int) -> object:
    """The annotation of what sits at ``part`` inside a value of ``annotation``."""
    model = _model(annotation)
    if model is not None:
        field = model.model_fields.get(str(part))
        return field.annotation if field is not None else None
    annotation = _unwrapped(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (tuple, list) and args and isinstance(part, int):
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def cross_problems(data: dict[str, object], document: MarkedDocument) -> list[LocatedProblem]:
    """Problems that involve more than one value: names, references, exclusive options.

    Works on the raw values, type-checking each it uses, so it runs even when field
    validation failed; a value of the wrong type is reported by validation instead.
    """
    problems: list[LocatedProblem] = []

    def add(loc: Loc, message: str) -> None:
        problems.append(LocatedProblem(document.position(loc), loc, message))

    names: dict[str, set[str]] = {}
    for section, kind in SECTIONS.items():
        first_lines: dict[str, int] = {}
        for index, entry in entries(data, section):
            name, loc = entry.get("name"), (section, index, "name")
            if isinstance(name, str) and name in first_lines:
                add(loc, f"duplicate {kind} name {name!r} (first used on line {first_lines[name]})")
            elif isinstance(name, str):
                first_lines[name] = document.position(loc).line
        names[section] = set(first_lines)
    # Feeds, pages and watches are all sources, polled and stored under their name.
    first_source: dict[str, tuple[str, int]] = {}
    for section in ("feeds", "pages", "watches"):
        for index, entry in entries(data, section):
            name, loc = entry.get("name"), (section, index, "name")
            if not isinstance(name, str):
                continue
            earlier = first_source.setdefault(name, (section, document.position(loc).line))
            if earlier[0] != section:
                add(
                    loc,
                    f"the name {name!r} is already used by a {SECTIONS[earlier[0]]} "
                    f"(line {earlier[1]})",
                )
    names["sources"] = set(first_source)
    for index, topic in entries(data, "topics"):
        name = topic.get("name")
        if isinstance(name, str) and name.startswith(WATCH_TOPIC_PREFIX):
            add(("topics", index, "name"), f"topic names may not start with {WATCH_TOPIC_PREFIX!r}")

    feed_tags: set[str] = set()
    for _index, page in entries(data, "pages"):
        feed_tags.update(tag for _, tag in texts(page.get("tags")))
    for index, feed in entries(data, "feeds"):
        feed_tags.update(tag for _, tag in texts(feed.get("tags")))
        url = feed.get("url")
        local = isinstance(url, str) and url.lower().startswith("file:")
        if local and flag(feed.get("allow_local_files", False)) is False:
            add(("feeds", index, "url"), "file:// URLs need 'allow_local_files: true' on the feed")

    for index, topic in entries(data, "topics"):
        for position, feed_name in texts(topic.get("feeds")):
            if feed_name not in names["sources"]:
                hint = did_you_mean(feed_name, names["sources"])
                add(("topics", index, "feeds", position), f"no feed named {feed_name!r}{hint}")
        for position, tag in texts(topic.get("tags")):
            if tag not in feed_tags:
                hint = did_you_mean(tag, feed_tags)
                add(("topics", index, "tags", position), f"no feed has the tag {tag!r}{hint}")

    for index, digest in entries(data, "digests"):
        for position, topic_name in texts(digest.get("topics")):
            if topic_name not in names["topics"]:
                hint = did_you_mean(topic_name, names["topics"])
                add(("digests", index, "topics", position), f"no topic named {topic_name!r}{hint}")
        scheduled = digest.get("schedule") is not None
        immediate = flag(digest.get("immediate", False))
        if scheduled and immediate:
            add(("digests", index, "immediate"), "set a schedule or 'immediate: true', not both")
        elif not scheduled and immediate is False:
            add(("digests", index), "needs a 'schedule' (cron: '0 7 * * *') or 'immediate: true'")
        if not digest.get("recipients") and not digest.get("channels"):
            add(("digests", index), "needs 'recipients' (email addresses) or 'channels'")
        for position, watch_name in texts(digest.get("watches")):
            if watch_name not in names["watches"]:
                hint = did_you_mean(watch_name, names["watches"])
                add(("digests", index, "watches", position), f"no watch named {watch_name!r}{hint}")
        if not digest.get("topics") and not digest.get("watches"):
            add(("digests", index), "needs 'topics' or 'watches' to report on")
    if data.get("executor") == "celery":
        database = data.get("database")
        if not isinstance(database, str) or not database.startswith("postgresql"):
            add(("executor",), "'celery' needs a PostgreSQL 'database' that every worker reaches")
        if not isinstance(data.get("broker"), str):
            add(("executor",), "'celery' needs a 'broker' URL (e.g. redis://127.0.0.1:6379/0)")
    return problems


def entry_names(data: dict[str, object], document: MarkedDocument) -> dict[Loc, str]:
    """``(section, index)`` -> name, for entries whose PATH uses the name (see watcher.config)."""
    names: dict[Loc, str] = {}
    for section in SECTIONS:
        seen: set[str] = set()
        for index, entry in entries(data, section):
            name = entry.get("name")
            written = (section, index, "name") not in document.from_environment
            if not isinstance(name, str):
                continue
            if name not in seen and NAME_PATTERN.fullmatch(name) and written:
                names[(section, index)] = name
            seen.add(name)
    return names
