"""`watcher export-feed`: the self link names the daemon's port; an empty feed's date is real."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from watcher.cli import cli

CONFIG = """\
# served by the daemon on a port of its own
http: {host: 127.0.0.1, port: 8899}
feeds:
  - {name: wire, url: "https://wire.example/rss"}
topics:
  - {name: ports, query: port}
"""


def test_self_link_keeps_the_port_and_an_empty_feed_is_not_dated_2000(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    assert CliRunner().invoke(cli, ["db", "upgrade", "--config", str(config)]).exit_code == 0
    before = datetime.now(UTC).replace(microsecond=0)

    result = CliRunner().invoke(cli, ["export-feed", "ports", "--config", str(config)])

    assert result.exit_code == 0, result.output
    assert 'href="http://127.0.0.1:8899/feeds/topics/ports.atom"' in result.stdout
    updated = re.search(r"<updated>([^<]+)</updated>", result.stdout)
    assert updated is not None
    when = datetime.fromisoformat(updated.group(1).replace("Z", "+00:00"))
    assert when >= before
