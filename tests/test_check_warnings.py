"""`watcher check` warns about what is valid but does not do what it says."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from watcher.cli import cli
from watcher.querystyle import quoted_phrase_warnings

CONFIG = """\
# Topics for the politics desk.
feeds:
  - {name: intranet, url: "http://10.1.2.3/news.xml"}        # no allow_private
  - {name: local, url: "http://localhost:8080/feed"}
  - {name: lab, url: "http://127.0.0.1:9/x", allow_private: true}
  - {name: public, url: "https://news.example/rss"}
topics:
  - name: travel
    query: president AND visit
    exclude: "former president"     # read as former AND president
  - name: phrases
    query: '"prime minister" NEAR/5 summit'
    exclude: '"president elect"'
  - name: words
    query: "summit OR visit"
"""


def test_check_warns_about_quoted_phrases_and_private_feeds(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(CONFIG, encoding="utf-8")

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 3, warnings
    quoted = [w for w in warnings if "topics." in w]
    assert quoted == [
        f"{config}:10:14: warning: topics.travel.exclude: YAML took the double quotes, so "
        "this reads as former AND president, not the phrase; write "
        "'\"former president\"' (single quotes outside) for the phrase, or former AND "
        "president to say you meant the words"
    ]
    assert any("feeds.intranet: 10.1.2.3 is private" in w for w in warnings)
    assert any("feeds.local: localhost is loopback" in w for w in warnings)
    assert not any("feeds.lab" in w or "feeds.public" in w for w in warnings)


def test_single_words_and_operators_are_not_warned_about() -> None:
    text = 'topics:\n  - {name: a, query: "drought", exclude: "x OR y"}\n'
    assert quoted_phrase_warnings(text, "f.yaml") == []
    assert quoted_phrase_warnings("topics: [broken", "f.yaml") == []
