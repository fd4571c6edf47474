"""Every ```yaml block in README.md is loaded as watcher would load it (as urlwatch
tests its docs): each block, merged into the shipped feeds.yaml, must validate, and
must not trip `watcher check`'s quoted-phrase warning. The topic example is also
run against items, so the quoting advice is shown to do what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from watcher.config import load_config_text
from watcher.match import TopicIndex
from watcher.models import Item
from watcher.querystyle import quoted_phrase_warnings

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```yaml\n(.*?)^```", README, re.DOTALL | re.MULTILINE)
LIST_SECTIONS = ("feeds", "pages", "watches", "topics", "digests")
ENVIRON = {"PGPASSWORD": "example", "WATCHER_HTTP_TOKEN": "example"}


def merged_into_shipped(block: str) -> str:
    """The shipped feeds.yaml with ``block``'s settings on top: entries of a list
    section (and named lists) replace shipped ones of the same name or are added."""
    base = yaml.safe_load((REPO / "feeds.yaml").read_text(encoding="utf-8"))
    for key, value in yaml.safe_load(block).items():
        if key in LIST_SECTIONS:
            names = {entry["name"] for entry in value}
            kept = [entry for entry in base.get(key, []) if entry["name"] not in names]
            base[key] = kept + value
        elif key == "lists":  # named lists merge by name, as the shipped topics use some
            base[key] = {**base.get(key, {}), **value}
        else:
            base[key] = value
    return yaml.safe_dump(base, sort_keys=False, allow_unicode=True)


def test_readme_has_yaml_examples() -> None:
    assert len(BLOCKS) >= 6


# The channels example loads Apprise, which imports the stdlib's deprecated imghdr.
@pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_readme_yaml_example_loads(block: str) -> None:
    assert isinstance(yaml.safe_load(block), dict)
    assert quoted_phrase_warnings(block, "README.md") == []
    config = load_config_text(merged_into_shipped(block), "README.md", environ=ENVIRON)
    for key in yaml.safe_load(block):
        if key in LIST_SECTIONS:
            assert getattr(config, key)


def item(title: str) -> Item:
    return Item(feed="wire", key=title, url=None, title=title, summary="", content_hash=title)


def test_the_readme_topic_example_matches_as_it_says() -> None:
    topics_block = next(b for b in BLOCKS if "name: leader-travel" in b)
    config = load_config_text(merged_into_shipped(topics_block), "README.md", environ=ENVIRON)
    index = TopicIndex.build([config.topic("leader-travel")])

    assert index.match(item("President arrives in Paris for a state visit"))
    assert not index.match(item("Former president arrives in Paris for a state visit"))
    # The phrase is excluded, not the two words: this one stays.
    assert index.match(item("President arrives at summit; a former aide was there"))


def test_the_safe_forms_keep_the_phrase() -> None:
    safe_block = next(b for b in BLOCKS if "name: safe-forms" in b)
    config = load_config_text(merged_into_shipped(safe_block), "README.md", environ=ENVIRON)
    index = TopicIndex.build([config.topic("safe-forms")])
    assert index.match(item("The former president spoke"))
    assert not index.match(item("A president, a former general"))
    assert not index.match(item("The former president spoke at the state funeral"))
