"""Compiled named lists: folded once, kept on disk, read back equal or not at all."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from watcher.config import ListConfig, TopicConfig
from watcher.knowledge import SHIPPED_LIST_NAMES, resolve_lists, shipped_lists
from watcher.knowledge import lists as knowledge_lists
from watcher.match import TopicIndex, compiled_lists, list_cache
from watcher.match.alternatives import OrIndex, SecondWords
from watcher.match.list_phrases import ListPhrases
from watcher.match.nodes import Or
from watcher.match.query import ListRef, parse_query
from watcher.match.requirements import index_keys, requirements
from watcher.models import Item

CONFIGURED = {
    "leaders": ListConfig.model_validate({"tagged": {"KP": ["金正恩", "김정은"]}}),
    "titles": ListConfig.model_validate(["president", "prime minister", "Президента"]),
    "places": ListConfig.model_validate({"tagged": {"CN": ["北京"]}, "replace": True}),
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder of this test's own, and no list compiled in this process."""
    monkeypatch.setenv("WATCHER_CACHE_DIR", str(tmp_path))
    compiled_lists._compiled_lists.clear()
    yield tmp_path / "lists"
    compiled_lists._compiled_lists.clear()


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def test_every_list_read_back_from_the_cache_equals_the_folded_one(cache: Path) -> None:
    resolved = resolve_lists(CONFIGURED)
    folded = {name: compiled_lists._fold_list(entities) for name, entities in resolved.items()}
    for entities in resolved.values():
        compiled_lists.list_alternatives(entities)  # misses: folds and writes
    assert len(cache_files(cache)) == len(resolved)
    compiled_lists._compiled_lists.clear()
    for name, entities in resolved.items():
        read = compiled_lists.list_alternatives(entities)
        assert read == folded[name], name
        # Equal phrases can still differ in what dataclass equality leaves out.
        assert [(p.source, p.tags, p.words) for p in read.children] == [  # type: ignore[union-attr]
            (p.source, p.tags, p.words)  # type: ignore[union-attr]
            for p in folded[name].children
        ]


def test_a_cached_list_matches_as_a_folded_one(cache: Path) -> None:
    topic = TopicConfig(name="t", query="@leaders ABROAD/20 (@capitals OR @cities)")
    title = "Kim Jong Un arrives in Beijing; Путин прилетел в Пекин"
    item = Item(feed="f", key="k", url=None, title=title, summary="")
    first = TopicIndex.build([topic]).match(item)
    compiled_lists._compiled_lists.clear()
    assert cache_files(cache)
    again = TopicIndex.build([topic]).match(item)
    assert first and again == first


def test_checking_a_query_builds_no_list(cache: Path) -> None:
    query = parse_query("@leaders ABROAD/5 @places", lists=resolve_lists(CONFIGURED))
    assert isinstance(query.root.left, ListRef)  # type: ignore[union-attr]
    assert not cache_files(cache) and not compiled_lists._compiled_lists
    assert str(query) == "@leaders ABROAD/5 @places"


def test_fingerprints_tell_lists_apart_and_equal_lists_together() -> None:
    shipped = shipped_lists()
    assert set(shipped) == set(SHIPPED_LIST_NAMES)
    again = resolve_lists({"leaders": CONFIGURED["leaders"]})
    resolved = resolve_lists(CONFIGURED)
    assert again["leaders"] == resolved["leaders"]
    assert resolved["leaders"].fingerprint != shipped["leaders"].fingerprint
    assert resolved["cities"] is shipped["cities"]
    # Replacing a shipped list is the same as a new list with those terms.
    replaced = resolve_lists({"places": CONFIGURED["places"]})["places"]
    new = resolve_lists({"places": ListConfig.model_validate({"tagged": {"CN": ["北京"]}})})
    assert replaced.fingerprint != new["places"].fingerprint  # that one extends
    assert replaced.fingerprint == resolved["places"].fingerprint
    other = resolve_lists({"titles": ListConfig.model_validate(["prime minister", "president"])})
    assert other["titles"].fingerprint != resolved["titles"].fingerprint  # order counts


def test_the_key_follows_the_code_and_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    modules = [knowledge_lists]
    key = list_cache.cache_key("fingerprint", modules)
    assert key == list_cache.cache_key("fingerprint", modules)
    assert key != list_cache.cache_key("another", modules)
    assert key != list_cache.cache_key("fingerprint", [knowledge_lists, compiled_lists])
    monkeypatch.setattr(list_cache, "FORMAT", list_cache.FORMAT + 1)
    assert key != list_cache.cache_key("fingerprint", modules)


def test_a_damaged_cache_file_is_ignored_and_written_again(cache: Path) -> None:
    entities = resolve_lists({})["capitals"]
    good = compiled_lists.list_alternatives(entities)
    (path,) = cache_files(cache)
    original = path.read_bytes()
    digest, _, body = original.partition(b"\n")
    document = json.loads(body)

    def signed(changed: object) -> bytes:
        text = json.dumps(changed).encode()
        return hashlib.sha256(text).hexdigest().encode() + b"\n" + text

    damaged = [
        b"",
        original[: len(original) // 2],  # truncated
        digest + b"\n" + body.replace(b"[", b"[ ", 1),  # the checksum no longer holds
        b"not a digest\n" + body,
        signed({**document, "key": "another"}),
        signed({**document, "format": list_cache.FORMAT + 1}),
        signed({**document, "words": [1, *document["words"][1:]]}),
        signed({**document, "phrase_tags": [len(document["tag_sets"])] * len(document["sources"])}),
        signed({**document, "phrase_words": [[-1]] * len(document["sources"])}),
        signed({**document, "phrase_words": [[True]] * len(document["sources"])}),
        signed({**document, "phrase_words": [[]] * len(document["sources"])}),
        signed({**document, "sources": document["sources"][1:]}),
        signed({**document, "key_words": [len(document["words"])]}),
        signed({**document, "key_words": "0"}),
        signed([document]),
        signed({key: value for key, value in document.items() if key != "prefixes"}),
        signed({key: value for key, value in document.items() if key != "key_words"}),
    ]
    for number, content in enumerate(damaged):
        path.write_bytes(content)
        assert list_cache.load(cache, path.stem) is None, number
        compiled_lists._compiled_lists.clear()
        assert compiled_lists.list_alternatives(entities) == good, number
        assert path.read_bytes() == original, number  # folded again and rewritten


def test_no_cache_when_the_folder_is_off_or_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entities = resolve_lists({})["demonyms"]
    folded = compiled_lists._fold_list(entities)
    monkeypatch.setenv("WATCHER_CACHE_DIR", "")
    assert list_cache.cache_folder() is None
    compiled_lists._compiled_lists.clear()
    assert compiled_lists.list_alternatives(entities) == folded
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WATCHER_CACHE_DIR", str(blocker))
    compiled_lists._compiled_lists.clear()
    assert compiled_lists.list_alternatives(entities) == folded
    monkeypatch.delenv("WATCHER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert list_cache.cache_folder() == tmp_path / "xdg" / "watcher" / "lists"


def test_readers_never_see_a_file_half_written(cache: Path) -> None:
    entities = resolve_lists({})["regions"]
    compact = compiled_lists._compact_from_or(compiled_lists._fold_list(entities))
    key = "concurrent"
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            found = list_cache.load(cache, key)
            if found is not None and found != compact:
                problems.append("a different list was read")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for _ in range(20):
        list_cache.save(cache, key, compact)
    stop.set()
    for reader in readers:
        reader.join()
    assert not problems
    assert list_cache.load(cache, key) == compact
    assert [path.name for path in cache.iterdir()] == [f"{key}.json"]  # no temporary left


def test_old_files_are_pruned(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(list_cache, "MAX_FILES", 3)
    compact = compiled_lists._compact_from_or(
        compiled_lists._fold_list(resolve_lists({})["leaders"])
    )
    for number in range(5):
        list_cache.save(cache, f"key{number}", compact)
    assert len(cache_files(cache)) == 3
    assert list_cache.load(cache, "key4") == compact


def test_a_lists_phrases_are_made_on_first_use_and_equal_the_folded_ones(cache: Path) -> None:
    """A list read back keeps its columns and makes a phrase when one is asked for;
    indexing it from the columns gives what indexing the folded phrases gives."""
    entities = resolve_lists(CONFIGURED)["leaders"]
    folded = compiled_lists._fold_list(entities)
    compiled_lists.list_alternatives(entities)  # folds and writes
    compiled_lists._compiled_lists.clear()
    read = compiled_lists.list_alternatives(entities)
    phrases = read.children
    assert isinstance(phrases, ListPhrases)
    count = len(folded.children)
    assert len(phrases) == count
    assert phrases[-1] == folded.children[-1] and phrases[0] == folded.children[0]
    assert phrases[0] is phrases[0]  # made once
    assert phrases[2:5] == tuple(folded.children[2:5])
    with pytest.raises(IndexError):
        phrases[count]
    assert list(phrases) == list(folded.children)
    assert phrases == tuple(folded.children) and tuple(folded.children) == phrases
    assert phrases != tuple(folded.children[1:])
    assert hash(phrases) == hash(tuple(folded.children))
    from_columns, from_phrases = OrIndex(read), OrIndex(Or(tuple(folded.children)))
    # Every way of filing a phrase is there: wildcards (Cyrillic stems), pairs, singles.
    assert from_phrases.by_prefix
    assert any(isinstance(found, SecondWords) for found in from_phrases.by_first.values())
    for name in ("by_first", "by_prefix", "by_stem", "others"):
        assert getattr(from_columns, name) == getattr(from_phrases, name), name
    assert all(  # SecondWords compare as dicts: their singles too
        getattr(from_columns.by_first[word], "singles", None) == getattr(found, "singles", None)
        for word, found in from_phrases.by_first.items()
    )
    assert index_keys(read) == index_keys(Or(tuple(folded.children)))
    assert requirements(read) == requirements(Or(tuple(folded.children)))
