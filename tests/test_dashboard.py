"""The dashboard through a real HTTP client against the real endpoint: every page and
form, sign-in, CSRF, hostile feed fields, and signed feedback links."""

from __future__ import annotations

import email
import email.policy
import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.dashboard_site import TOKEN, Site, audit, running_site
from watcher.config import load_config
from watcher.dashboard.links import FeedbackSigner
from watcher.exceptions import ConfigError


@pytest.fixture(scope="module")
def open_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """No token: loopback only, pages open, forms still need their CSRF token."""
    with running_site(tmp_path_factory.mktemp("open")) as site:
        yield site


@pytest.fixture(scope="module")
def locked_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(
        tmp_path_factory.mktemp("locked"), token=TOKEN, public_url="http://watch.example/desk"
    ) as site:
        yield site


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def signed_in(site: Site) -> requests.Session:
    browser = requests.Session()
    login = browser.get(site.url + "/login")
    assert login.status_code == 200
    answer = browser.post(
        site.url + "/login",
        data={"csrf": csrf_of(login.text), "token": TOKEN, "next": "/sources"},
        allow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/sources"
    cookie = answer.headers["Set-Cookie"]
    # public_url is http here, so the cookie cannot be Secure.
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    return browser


def test_index_shows_todays_stories_by_topic_with_sources_and_highlights(open_site: Site) -> None:
    page = requests.get(open_site.url + "/")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.text
    # Topics in config order, each story once, the matched terms marked.
    assert text.index("Leader travel") < text.index("Parade coverage") < text.index(">Tides<")
    assert "Premier Aldous departs for state visit to Verania" in text.replace(
        '<mark class="title-hit">', ""
    ).replace("</mark>", "")
    assert '<mark class="title-hit">Premier</mark>' in text
    assert "Also reported by" in text  # the wire and the courier cover the same parade story
    assert "state-new" in text  # nothing was sent yet
    assert text.count('action="/label"') >= 3
    assert "Harvest festival" not in text  # matched no topic


def test_pages_carry_the_security_headers_and_load_only_their_stylesheet(open_site: Site) -> None:
    page = requests.get(open_site.url + "/")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "style-src 'self'" in csp and "form-action 'self'" in csp and "script" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert (
        cookie.startswith("watcher_csrf=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    )
    marks = audit(page.text)
    assert "script" not in marks.tags
    css = requests.get(open_site.url + "/static/dashboard.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert b".vote" in css.content and b".entry-title" in css.content


def test_hostile_feed_fields_stay_text_on_every_page(open_site: Site) -> None:
    hostile = open_site.item_id("Tide tables")
    pages = [
        "/",
        f"/items/{hostile}",
        "/topics/tides",
        "/sources",
    ]
    for path in pages:
        page = requests.get(open_site.url + path)
        assert page.status_code == 200, path
        marks = audit(page.text)
        assert not marks.handlers, (path, marks.handlers)
        for tag in ("script", "img", "iframe", "svg", "object", "style", "base", "meta-refresh"):
            assert tag not in marks.tags, (path, tag)
        for link in marks.links:
            assert not re.match(r"\s*(javascript|data|vbscript):", link, re.I), (path, link)
        # The title's markup shows as text, escaped.
        if path != "/sources":
            assert "&lt;img src=x onerror=alert(1)&gt;" in page.text, path
    item = requests.get(open_site.url + f"/items/{hostile}").text
    # The feed's HTML, sanitised: its formatting kept, its scripts and objects gone.
    assert '<div class="original-html"><b>Tide</b>' in item
    assert "evil.example" not in item and "x.swf" not in item


def test_item_page_explains_every_topic_and_shows_the_story(open_site: Site) -> None:
    parade = open_site.item_id("parade rehearsal")
    page = requests.get(open_site.url + f"/items/{parade}")
    assert page.status_code == 200
    text = page.text
    for title in ("Leader travel", "Parade coverage", "Tides"):
        assert title in text
    assert text.count('class="badge badge-yes"') >= 1
    assert text.count('class="badge badge-no"') >= 1
    assert "clause-yes" in text and "clause-no" in text
    assert "<code>parade</code>" in text
    assert "The story&#39;s other sources" in text or "The story's other sources" in text
    assert requests.get(open_site.url + "/items/999999").status_code == 404


def test_feedback_form_records_a_web_label_and_returns_to_the_story(open_site: Site) -> None:
    browser = requests.Session()
    index = browser.get(open_site.url + "/?window=2d")
    # The story's card: its strongest item, with the other outlets under it.
    item = int(re.findall(r'id="item-([0-9]+)-leader-travel"', index.text)[0])
    answer = browser.post(
        open_site.url + "/label",
        data={
            "csrf": csrf_of(index.text),
            "item": str(item),
            "topic": "leader-travel",
            "verdict": "not-relevant",
            "back": "/?window=2d",
        },
        allow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/?window=2d#item-{item}-leader-travel"
    [label] = open_site.store.labels(item_id=item)
    assert (label.topic, label.relevant, label.origin) == ("leader-travel", False, "web")
    again = browser.get(open_site.url + answer.headers["Location"])
    assert 'class="vote vote-no vote-on"' in again.text
    topic = browser.get(open_site.url + "/topics/leader-travel").text
    assert 'not relevant <span class="count-number">1</span>' in topic


def test_a_post_without_or_with_a_wrong_csrf_token_writes_nothing(open_site: Site) -> None:
    item = open_site.item_id("parade rehearsal")
    fields = {"item": str(item), "topic": "parade-coverage", "verdict": "relevant"}
    browser = requests.Session()
    browser.get(open_site.url + "/")
    assert browser.post(open_site.url + "/label", data=fields).status_code == 403
    forged = {**fields, "csrf": "0" * 64}
    assert browser.post(open_site.url + "/label", data=forged).status_code == 403
    # A token from another browser does not fit this browser's cookie.
    other = requests.get(open_site.url + "/")
    stolen = {**fields, "csrf": csrf_of(other.text)}
    assert browser.post(open_site.url + "/label", data=stolen).status_code == 403
    assert open_site.store.labels(item_id=item) == []


def test_bad_feedback_fields_are_refused(open_site: Site) -> None:
    browser = requests.Session()
    token = csrf_of(browser.get(open_site.url + "/").text)
    item = open_site.item_id("parade rehearsal")
    for fields, status in [
        ({"item": str(item), "topic": "parade-coverage", "verdict": "maybe"}, 400),
        ({"item": "x1", "topic": "parade-coverage", "verdict": "relevant"}, 400),
        ({"item": str(item), "topic": "no-such-topic", "verdict": "relevant"}, 400),
        ({"item": "987654", "topic": "parade-coverage", "verdict": "relevant"}, 404),
    ]:
        answer = browser.post(open_site.url + "/label", data={**fields, "csrf": token})
        assert answer.status_code == status, fields
    # An off-site return address is not followed.
    answer = browser.post(
        open_site.url + "/label",
        data={
            "csrf": token,
            "item": str(item),
            "topic": "parade-coverage",
            "verdict": "relevant",
            "back": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert answer.headers["Location"].startswith("/#item-")


def test_topic_page_backtests_a_draft_query(open_site: Site) -> None:
    browser = requests.Session()
    page = browser.get(open_site.url + "/topics/parade-coverage")
    assert page.status_code == 200 and "Try a query" in page.text
    token = csrf_of(page.text)
    tried = browser.post(
        open_site.url + "/topics/parade-coverage",
        data={"csrf": token, "query": "harvest OR parade", "window": "7d"},
    )
    assert tried.status_code == 200
    assert "Newly matching (1)" in tried.text
    assert '<mark class="title-hit">Harvest</mark> festival' in tried.text
    broken = browser.post(
        open_site.url + "/topics/parade-coverage",
        data={"csrf": token, "query": "parade AND (", "window": "7d"},
    )
    assert broken.status_code == 200 and 'class="error"' in broken.text
    assert browser.get(open_site.url + "/topics/nope").status_code == 404
    unforged = requests.post(
        open_site.url + "/topics/parade-coverage", data={"query": "x", "window": "7d"}
    )
    assert unforged.status_code == 403


def test_sources_page_lists_polls_and_digests(open_site: Site) -> None:
    page = requests.get(open_site.url + "/sources")
    assert page.status_code == 200
    for name in ("wire", "courier", "harbour"):
        assert f"<strong>{name}</strong>" in page.text
    assert "Morning digest" in page.text and "0 7 * * *" in page.text
    assert page.text.count("<td>new_items</td>") == 4
    morning = open_site.config.digest("morning")
    pending = len(open_site.store.unclaimed_items(morning.with_watch_topics()))
    assert pending >= 6 and f'<td class="num">{pending}</td></tr>' in page.text


def test_with_a_token_pages_need_a_session_or_bearer(locked_site: Site) -> None:
    anonymous = requests.get(locked_site.url + "/")
    assert anonymous.status_code == 401 and 'action="/login"' in anonymous.text
    assert "Premier Aldous" not in anonymous.text
    wrong = requests.get(locked_site.url + "/", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    bearer = requests.get(locked_site.url + "/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200 and "Premier" in bearer.text
    browser = signed_in(locked_site)
    assert "Premier" in browser.get(locked_site.url + "/").text
    assert browser.get(locked_site.url + "/sources").status_code == 200


def test_a_wrong_token_does_not_sign_in_and_a_post_without_auth_writes_nothing(
    locked_site: Site,
) -> None:
    browser = requests.Session()
    login = browser.get(locked_site.url + "/login")
    answer = browser.post(
        locked_site.url + "/login",
        data={"csrf": csrf_of(login.text), "token": "guess", "next": "/"},
        allow_redirects=False,
    )
    assert answer.status_code == 401 and "Set-Cookie" not in answer.headers
    item = locked_site.item_id("parade rehearsal")
    refused = browser.post(
        locked_site.url + "/label",
        data={
            "csrf": csrf_of(login.text),
            "item": str(item),
            "topic": "parade-coverage",
            "verdict": "relevant",
        },
    )
    assert refused.status_code == 401
    assert locked_site.store.labels(item_id=item) == []
    # Bearer needs no CSRF token: no browser sends that header by itself.
    api = requests.post(
        locked_site.url + "/label",
        data={"item": str(item), "topic": "parade-coverage", "verdict": "relevant"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        allow_redirects=False,
    )
    assert api.status_code == 303
    assert [label.origin for label in locked_site.store.labels(item_id=item)] == ["web"]


def test_sign_out_ends_the_session(locked_site: Site) -> None:
    browser = signed_in(locked_site)
    page = browser.get(locked_site.url + "/")
    out = browser.post(
        locked_site.url + "/logout", data={"csrf": csrf_of(page.text)}, allow_redirects=False
    )
    assert out.status_code == 303
    assert browser.get(locked_site.url + "/").status_code == 401


def test_signed_digest_link_confirms_before_it_writes(locked_site: Site) -> None:
    item = locked_site.item_id("Premier Aldous")
    link = FeedbackSigner(TOKEN).link(
        "http://watch.example/desk", item, "leader-travel", "relevant"
    )
    parts = urlsplit(link)
    assert parts.path == "/desk/feedback"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    browser = requests.Session()  # not signed in: the link itself is the authority
    confirm = browser.get(locked_site.url + "/feedback", params=query)
    assert confirm.status_code == 200 and "Record: relevant" in confirm.text
    assert locked_site.store.labels(item_id=item, topic="leader-travel") == []  # a GET never writes
    recorded = browser.post(
        locked_site.url + "/feedback", data={**query, "csrf": csrf_of(confirm.text)}
    )
    assert recorded.status_code == 200 and "Thank you" in recorded.text
    [label] = locked_site.store.labels(item_id=item, topic="leader-travel")
    assert (label.relevant, label.origin) == (True, "email")
    tampered = {**query, "verdict": "not-relevant"}
    assert browser.get(locked_site.url + "/feedback", params=tampered).status_code == 403
    other = {**query, "topic": "parade-coverage"}
    assert browser.get(locked_site.url + "/feedback", params=other).status_code == 403


def test_the_endpoint_keeps_its_other_paths_and_limits(open_site: Site) -> None:
    assert requests.get(open_site.url + "/nothing-here").status_code == 404
    assert requests.post(open_site.url + "/metrics", data={}).status_code == 404
    big = requests.post(open_site.url + "/label", data={"x": "y" * 70_000})
    assert big.status_code == 413
    assert requests.put(open_site.url + "/label").status_code in (405, 501)


def test_digest_emails_carry_signed_links_that_land_on_the_confirmation_page(
    locked_site: Site,
) -> None:
    [outcome] = locked_site.pipeline.digests.send_digest(locked_site.config.digest("morning"))
    assert outcome.status == "sent"
    outbox = Path(str(locked_site.config.outbox))
    message = email.message_from_bytes(
        next(outbox.glob("*.eml")).read_bytes(), policy=email.policy.default
    )
    html_part = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text_part = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    links = re.findall(r'href="(http://watch\.example/desk/feedback\?[^"]+)"', html_part)
    assert len(links) >= 6  # two per entry
    assert "Relevant: http://watch.example/desk/feedback?" in text_part
    # The email's link, pointed at this server instead of the public URL.
    query = {
        name: values[0]
        for name, values in parse_qs(urlsplit(html.unescape(links[1])).query).items()
    }
    assert query["verdict"] == "not-relevant"
    browser = requests.Session()
    confirm = browser.get(locked_site.url + "/feedback", params=query)
    assert confirm.status_code == 200 and "Record: not relevant" in confirm.text
    done = browser.post(
        locked_site.url + "/feedback", data={**query, "csrf": csrf_of(confirm.text)}
    )
    assert done.status_code == 200
    labels = locked_site.store.labels(item_id=int(query["item"]), topic=query["topic"])
    assert [(label.relevant, label.origin) for label in labels] == [(False, "email")]


def test_digest_emails_have_no_links_without_a_public_url(open_site: Site) -> None:
    open_site.pipeline.digests.send_digest(open_site.config.digest("morning"))
    outbox = Path(str(open_site.config.outbox))
    body = next(outbox.glob("*.eml")).read_text(encoding="utf-8", errors="replace")
    assert "/feedback?" not in body


@pytest.mark.parametrize(
    ("http", "message"),
    [
        ("{public_url: 'https://watch.example/'}", "public_url needs a 'token'"),
        ("{token: t0ken, public_url: 'javascript:alert(1)'}", "must be an http(s) URL"),
        ("{token: t0ken, public_url: 'https://watch.example/?a=1'}", "without a query"),
    ],
)
def test_public_url_is_checked_at_load(tmp_path: Path, http: str, message: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(f"http: {http}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "http" in str(caught.value) and message in str(caught.value)


def test_public_url_with_a_token_loads(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("http: {token: t0ken, public_url: 'https://watch.example/desk'}\n")
    http = load_config(path).http
    assert http is not None and http.public_url == "https://watch.example/desk"


def test_https_public_url_makes_the_cookies_secure(tmp_path: Path) -> None:
    from watcher.clock import utc_now
    from watcher.dashboard.app import Dashboard
    from watcher.dashboard.web import WebRequest
    from watcher.store import Store

    with Store.open(f"sqlite:///{tmp_path / 'w.db'}") as store:
        store.upgrade()
        dashboard = Dashboard(
            lambda: load_config(write_minimal(tmp_path)),
            store,
            token=TOKEN,
            public_url="https://watch.example/",
            clock=utc_now,
        )
        answer = dashboard.handle(WebRequest("GET", "/login"))
    assert answer.status == 200
    assert "Secure" in answer.headers["Set-Cookie"]


def write_minimal(folder: Path) -> Path:
    path = folder / "minimal.yaml"
    path.write_text("feeds: []\n", encoding="utf-8")
    return path


def test_wrong_tokens_are_throttled_without_locking_out_bearer(tmp_path: Path) -> None:
    with running_site(tmp_path, token=TOKEN) as site:
        browser = requests.Session()
        token = csrf_of(browser.get(site.url + "/login").text)
        statuses = [
            browser.post(
                site.url + "/login", data={"csrf": token, "token": f"guess-{n}", "next": "/"}
            ).status_code
            for n in range(21)
        ]
        assert statuses[:20] == [401] * 20 and statuses[20] == 429
        right = browser.post(site.url + "/login", data={"csrf": token, "token": TOKEN})
        assert right.status_code == 429  # even the right token waits out the pause
        bearer = requests.get(site.url + "/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200


def test_malformed_requests_get_a_clear_answer(open_site: Site) -> None:
    # A cookie header the parser cannot read counts as no cookie: a fresh CSRF cookie.
    page = requests.get(open_site.url + "/", headers={"Cookie": 'watcher_csrf="unclosed; ;;'})
    assert page.status_code == 200 and page.headers["Set-Cookie"].startswith("watcher_csrf=")
    too_many = "&".join(f"f{n}=x" for n in range(60))
    answer = requests.post(
        open_site.url + "/label",
        data=too_many,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400
    not_utf8 = requests.post(
        open_site.url + "/label",
        data=b"csrf=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_utf8.status_code == 400
    assert requests.get(open_site.url + "/login").url == open_site.url + "/"  # no token: no login
