"""Editing feeds.yaml in place: add, remove, pause and resume sources.

A round-trip edit (ruamel.yaml) keeps the file's comments, key order, quoting
and indentation; only the entries touched change. Every edit is validated with
``watcher.config.load_config_text`` before the file is replaced, and the file is
replaced atomically (a temporary file in the same folder, then a rename), so a
crash or a refused edit never leaves a half-written or invalid feeds.yaml.

``${VAR}`` references in the file are kept as written: the edit works on the
text, and validation expands them exactly as loading would.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from watcher.config import MAX_CONFIG_BYTES, Config, load_config_text
from watcher.exceptions import ConfigError

SOURCE_SECTIONS = ("feeds", "pages", "watches")

# Indentation styles tried, in this order, to reproduce the file exactly:
# (mapping, sequence, offset) as ruamel.yaml's YAML.indent takes them.
_INDENT_STYLES = ((2, 4, 2), (2, 2, 0), (4, 6, 4), (4, 4, 0), (4, 4, 2), (2, 4, 0), (3, 5, 3))


@dataclass(frozen=True, slots=True)
class NewFeed:
    """A feed to append to ``feeds:``; unset fields are not written."""

    name: str
    url: str
    title: str | None = None
    interval: str | None = None
    tags: tuple[str, ...] = ()
    allow_private: bool = False

    def as_mapping(self) -> dict[str, object]:
        entry: dict[str, object] = {"name": self.name, "url": self.url}
        if self.title:
            # The loader expands ${...}: a title taken from a hostile page must not
            # pull a secret out of the environment (see watcher.sources.discover.feeds_yaml).
            entry["title"] = self.title.replace("${", "$${")
        if self.interval:
            entry["interval"] = self.interval
        if self.tags:
            entry["tags"] = list(self.tags)
        if self.allow_private:
            entry["allow_private"] = True
        return entry


class SourcesFile:
    """feeds.yaml opened for editing. Raises ConfigError when it cannot be read as YAML."""

    def __init__(self, path: Path, environ: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.environ = os.environ if environ is None else environ
        try:
            self.original = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
        if len(self.original) > MAX_CONFIG_BYTES:  # as loading would refuse it (issue #16)
            raise ConfigError([f"{path}: is larger than the {MAX_CONFIG_BYTES:,} bytes allowed"])
        self._yaml = _round_trip_yaml(self.original)
        try:
            loaded = self._yaml.load(self.original)
        except YAMLError as exc:
            raise ConfigError([f"{path}: invalid YAML: {exc}"]) from exc
        except RecursionError:  # ruamel.yaml composes recursively
            raise ConfigError([f"{path}: invalid YAML: values nested too deep"]) from None
        self.document: CommentedMap = loaded if loaded is not None else CommentedMap()
        if not isinstance(self.document, CommentedMap):
            raise ConfigError([f"{path}: expected a mapping of settings (key: value)"])
        self.text = self.original

    def entries(self, section: str) -> list[Any]:
        found = self.document.get(section)
        return list(found) if isinstance(found, list) else []

    def locate(self, name: str) -> tuple[str, int] | None:
        """(section, index) of the source called ``name``, or None."""
        for section in SOURCE_SECTIONS:
            for index, entry in enumerate(self.entries(section)):
                if isinstance(entry, Mapping) and entry.get("name") == name:
                    return section, index
        return None

    def add_feed(self, feed: NewFeed) -> None:
        """Append ``feed`` to ``feeds:`` (created at the end when missing), in the style
        of the entries already there (one-line ``{...}`` entries stay one-line)."""
        feeds = self.document.get("feeds")
        entry = CommentedMap(feed.as_mapping())
        tags = entry.get("tags")
        if isinstance(tags, list):
            flow_tags = CommentedSeq(tags)
            flow_tags.fa.set_flow_style()
            entry["tags"] = flow_tags
        if feeds and all(isinstance(e, CommentedMap) and e.fa.flow_style() for e in feeds):
            entry.fa.set_flow_style()
        if isinstance(feeds, CommentedSeq) and feeds and not feeds.fa.flow_style():
            self._insert_after_last(entry)
            return
        existing = list(feeds) if isinstance(feeds, list) else []
        replaced = CommentedSeq([*existing, entry])
        self.document["feeds"] = replaced
        self._dumped()

    def _insert_after_last(self, entry: CommentedMap) -> None:
        """Insert ``entry``'s lines right after the last entry of ``feeds:``, before the
        blank lines and comments that lead to the next key (ruamel.yaml would put it
        after them, leaving the blank line between entries and none before the key)."""
        alone = io.StringIO()
        self._yaml.dump(CommentedMap([("feeds", CommentedSeq([entry]))]), alone)
        entry_lines = alone.getvalue().splitlines(keepends=True)[1:]
        lines = self.text.splitlines(keepends=True)
        feeds: CommentedSeq = self.document["feeds"]
        last_start, last_column = feeds.lc.item(len(feeds) - 1)
        # Line the new entry's dash up with the last one's, whatever indentation style.
        dash = lines[last_start].rfind("-", 0, last_column)
        dash = dash if dash >= 0 else last_column - 2
        shift = dash - (len(entry_lines[0]) - len(entry_lines[0].lstrip(" ")))
        if shift > 0:
            entry_lines = [" " * shift + line for line in entry_lines]
        elif shift < 0:
            entry_lines = [line[-shift:] for line in entry_lines]
        end = self._section_end("feeds", len(lines))
        while end - 1 > last_start and _blank_or_comment(lines[end - 1]):
            end -= 1
        if end > 0 and not lines[end - 1].endswith("\n"):
            lines[end - 1] += "\n"
        lines[end:end] = entry_lines
        self._reload("".join(lines))

    def remove(self, name: str) -> str:
        """Remove the source ``name`` (and the comment lines just above it); returns its
        section. Raises KeyError.

        Works on the lines of the text: ruamel.yaml re-emits a sequence emptied of
        commented entries as invalid YAML, and line edits touch nothing else.
        """
        found = self.locate(name)
        if found is None:
            raise KeyError(name)
        section, index = found
        entries: CommentedSeq = self.document[section]
        if entries.fa.flow_style():  # `feeds: [{...}, {...}]` on one line: no lines to cut
            del entries[index]
            self._dumped()
            return section
        lines = self.text.splitlines(keepends=True)
        start = entries.lc.item(index)[0]
        if index + 1 < len(entries):
            end = entries.lc.item(index + 1)[0]
        else:
            end = self._section_end(section, len(lines))
        # Blank and comment lines before the next entry or key belong to it.
        while end - 1 > start and _blank_or_comment(lines[end - 1]):
            end -= 1
        dash_column = entries.lc.item(index)[1] - 2
        while start > 0 and _comment_at(lines[start - 1], dash_column):
            start -= 1
        del lines[start:end]
        if len(entries) == 1:  # `feeds:` with nothing under it would be null: write []
            key_line = self.document.lc.key(section)[0]
            lines[key_line] = re.sub(
                rf"^(\s*{re.escape(section)}:)", r"\1 []", lines[key_line], count=1
            )
        self._reload("".join(lines))
        return section

    def _section_end(self, section: str, line_count: int) -> int:
        """The line where the top-level key after ``section`` starts (or the end)."""
        keys = list(self.document.keys())
        following = keys[keys.index(section) + 1 :]
        return self.document.lc.key(following[0])[0] if following else line_count

    def _dumped(self) -> None:
        """Write the edited tree out and read it back, so the next edit has line marks."""
        out = io.StringIO()
        self._yaml.dump(self.document, out)
        self._reload(out.getvalue())

    def _reload(self, text: str) -> None:
        """Take ``text`` as the edited file. Raises ConfigError when it is not YAML."""
        try:
            self.document = self._yaml.load(text)
        except YAMLError as exc:
            message = " ".join(str(exc).split())
            raise ConfigError(
                [f"{self.path}: the edit would not be valid YAML: {message}"]
            ) from exc
        self.text = text

    def set_enabled(self, name: str, enabled: bool) -> bool:
        """Pause (``enabled: false``) or resume the source ``name``; False when it already
        was in that state. Resuming removes the key, true being the default."""
        found = self.locate(name)
        if found is None:
            raise KeyError(name)
        section, index = found
        entry = self.document[section][index]
        was_enabled = entry.get("enabled", True) is not False
        if was_enabled == enabled:
            return False
        if enabled:
            del entry["enabled"]
        else:
            entry["enabled"] = False
        self._dumped()
        return True

    def render(self) -> str:
        return self.text

    def validated(self) -> Config:
        """The configuration the edited file would load as. Raises ConfigError."""
        return load_config_text(self.render(), str(self.path), environ=self.environ)

    def save(self) -> Config:
        """Validate the edit, then replace the file atomically; returns the new config."""
        config = self.validated()
        write_atomically(self.path, self.render())
        return config


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` through a temporary file and a rename, keeping its mode."""
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _comment_at(line: str, column: int) -> bool:
    """A comment line starting at ``column`` (one that introduces the entry below it)."""
    return line.lstrip().startswith("#") and len(line) - len(line.lstrip()) == column


def _round_trip_yaml(text: str) -> YAML:
    """A round-trip YAML that writes ``text`` back unchanged, if any style does."""
    chosen = _yaml_with(*_INDENT_STYLES[0])
    for style in _INDENT_STYLES:
        candidate = _yaml_with(*style)
        try:
            document = candidate.load(text)
        except YAMLError:
            return chosen  # the caller reports the error when it loads the text
        out = io.StringIO()
        candidate.dump(document, out)
        if out.getvalue() == text:
            return candidate
    return chosen


def _yaml_with(mapping: int, sequence: int, offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line of the user's
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml
