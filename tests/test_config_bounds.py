"""Configuration under hostile or careless input (issue #16): an empty token, a
non-loopback bind without one, YAML bombs, deep nesting and oversized files all end
in one-line config errors (exit 2), through `watcher check` and a daemon reload."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import measured
from tests.chaos_server import ChaosServer, running_chaos_server
from tests.test_daemon import Daemon, free_port, write_config
from watcher.cli import cli
from watcher.config import MAX_CONFIG_BYTES, load_config_text

REPO = Path(__file__).resolve().parents[1]
MINIMAL = "feeds:\n  - {name: harbour, url: 'https://example.org/feed.xml'}\n"
# Nine levels of nine aliases: a few hundred bytes standing for 9**9 strings.
LOL = ", ".join(['"lol"'] * 9)
BILLION_LAUGHS = f"a: &a [{LOL}]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
) + "feeds: *i\n"  # fmt: skip


def check(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    config = tmp_path / "feeds.yaml"
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "check"], env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("http", "env"),
    [
        ('{port: 8787, token: ""}', {}),
        ("{port: 8787, token: '   '}", {}),
        ("{port: 8787, token: '${WATCHER_TOKEN}'}", {"WATCHER_TOKEN": ""}),
    ],
    ids=["empty", "blank", "empty-variable"],
)
def test_an_empty_token_is_a_config_error_not_auth_off(
    tmp_path: Path, http: str, env: dict[str, str]
) -> None:
    code, output = check(tmp_path, f"{MINIMAL}http: {http}\n", env=env)
    assert code == 2
    assert output.count("\n") == 1
    assert re.fullmatch(r".*feeds\.yaml:3:\d+: http\.token: is empty, which would turn "
                        r"authentication off; .*\n", output), output  # fmt: skip


def test_a_bind_beyond_this_machine_needs_a_token(tmp_path: Path) -> None:
    code, output = check(tmp_path, f"{MINIMAL}http: {{host: 0.0.0.0, port: 8787}}\n")
    assert code == 2
    assert output.count("\n") == 1
    assert "feeds.yaml:3:7: http: binding '0.0.0.0' beyond this machine needs a 'token'" in output
    code, output = check(tmp_path, f"{MINIMAL}http: {{host: 0.0.0.0, token: s3cret}}\n")
    assert code == 0, output


def run_check_measured(config: Path) -> tuple[int, str, float, int]:
    """`watcher check` as a subprocess: exit code, stderr, seconds, peak RSS in bytes."""
    started = time.monotonic()
    code, _out, stderr, peak = measured.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "check"],
        config.parent,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    return code, stderr, time.monotonic() - started, peak


def test_a_billion_laughs_ends_in_one_line_quickly_and_small(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(BILLION_LAUGHS, encoding="utf-8")
    code, stderr, seconds, peak = run_check_measured(config)
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert f"{config}:6:8: invalid YAML: aliases here repeat more than 100,000 values" in stderr
    assert seconds < 20  # the bound the issue sets; the check itself takes about a second
    assert peak < 250 * 1024 * 1024


def test_values_nested_too_deep_are_refused_in_one_line(tmp_path: Path) -> None:
    code, output = check(tmp_path, "feeds: " + "[" * 500 + "]" * 500 + "\n")
    assert code == 2
    assert output.count("\n") == 1
    assert "feeds.yaml:1:71: invalid YAML: values nested more than 64 deep" in output


def test_a_file_larger_than_the_cap_is_refused_unread(tmp_path: Path) -> None:
    padding = "# padding\n" * (MAX_CONFIG_BYTES // 10)
    code, output = check(tmp_path, MINIMAL + padding)
    assert code == 2
    assert output.endswith("feeds.yaml: is larger than 2 MiB; is it the right file?\n")
    assert output.count("\n") == 1


def test_aliases_for_shared_settings_still_work() -> None:
    # The first feed carries the shared settings; the others merge them in ("<<").
    feeds = "".join(
        f"  - {{<<: *shared, name: port-{n}, url: 'https://example.org/{n}.xml'}}\n"
        for n in range(300)
    )
    text = (
        "feeds:\n"
        "  - &shared {name: harbour, url: 'https://example.org/feed.xml', interval: 2h,"
        " tags: &news [news, harbour]}\n"
        f"{feeds}"
        "pages:\n"
        "  - {name: quay, url: 'https://example.org/quay', link_selector: 'h2 a', tags: *news}\n"
    )
    config = load_config_text(text, environ={})
    assert len(config.feeds) == 301
    assert {feed.interval for feed in config.feeds} == {timedelta(hours=2)}
    assert {source.tags for source in config.sources} == {("news", "harbour")}


@pytest.mark.slow
def test_a_reload_keeps_the_running_config_and_says_why_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    port = free_port()
    with running_chaos_server() as chaos:
        write_config(config, tmp_path, chaos, port, ["harbour=/feed.xml"])
        daemon = Daemon(config, tmp_path, port)
        try:
            daemon.wait_for(lambda: daemon.get("/healthz")[0] == 200, "healthz")
            rejected = _reload(daemon, config, _with_http(config, chaos, 'token: ""'), 1)
            assert "http.token: is empty" in rejected
            assert daemon.get("/healthz")[0] == 200  # still the old config: no token asked

            rejected = _reload(daemon, config, BILLION_LAUGHS, 2)
            assert "aliases here repeat more than 100,000 values" in rejected
            peak = _peak_rss(daemon.process.pid)
            assert peak < 250 * 1024 * 1024, peak
            assert daemon.get("/healthz")[0] == 200
        finally:
            code = daemon.stop()
    assert code == 0, daemon.output()


def _with_http(config: Path, chaos: ChaosServer, setting: str) -> str:
    text = config.read_text(encoding="utf-8")
    return re.sub(r"http: \{(.*?)\}", rf"http: {{\1, {setting}}}", text)


def _reload(daemon: Daemon, config: Path, text: str, count: int) -> str:
    """Write ``text``, send SIGHUP, and return the ``count``-th rejection's log line."""
    config.write_text(text, encoding="utf-8")
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for(lambda: daemon.output().count("reload rejected") == count, f"rejection {count}")
    lines = daemon.output().splitlines()
    index = [n for n, line in enumerate(lines) if "reload rejected" in line][-1]
    # One line: whatever follows is the daemon's next record, not the rest of the reason.
    follows = lines[index + 1 : index + 2]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line) for line in follows), follows
    return lines[index]


def _peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1)) * 1024
