"""Routing, authentication and rendering of the dashboard's pages.

Paths (everything else is not the dashboard's, and the endpoint answers it):

    GET  /                      the window's stories by topic (?window=1d|2d|7d)
    GET  /items/ID              an item: its text, every topic explained, its story
    GET  /topics/NAME           a topic: recent matches, label counts, a draft-query form
    POST /topics/NAME           try the draft query against stored items
    GET  /sources               sources' polls and errors, digests' runs
    POST /label                 record "relevant / not relevant" (origin "web")
    GET  /feedback              a signed digest link's confirmation page (never writes)
    POST /feedback              record the signed link's verdict (origin "email")
    GET  /login, POST /login    exchange the endpoint's token for a session cookie
    POST /logout
    GET  /static/dashboard.css  the digest's stylesheet plus the dashboard's

With a token configured every page needs a session or ``Authorization:
Bearer``; without one (loopback only) pages are open. Every POST needs the
form's CSRF token, except one authenticated by Bearer (no browser sends that
header on its own), and only an authenticated POST or a signed link writes.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import jinja2

from watcher.config import Config, DigestConfig
from watcher.dashboard import detail, sources, views
from watcher.dashboard.links import VERDICTS, FeedbackSigner
from watcher.dashboard.security import (
    CSRF_COOKIE,
    PAGE_CSP,
    SESSION_COOKIE,
    CsrfTokens,
    LoginThrottle,
    Sessions,
    cookie_header,
)
from watcher.dashboard.web import WebRequest, WebResponse
from watcher.exceptions import StoreError
from watcher.models import StoredItem
from watcher.outputs.digest import shipped_templates_dir
from watcher.store import Store

log = logging.getLogger(__name__)

_ITEM_PATH = re.compile(r"/items/([0-9]{1,18})")
_TOPIC_PATH = re.compile(r"/topics/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})")
_BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_PAGES = ("/", "/sources", "/login", "/logout", "/label", "/feedback", "/static/dashboard.css")
STYLESHEET = "/static/dashboard.css"


class Dashboard:
    """The dashboard of one daemon; ``handle`` answers a request to one of its paths."""

    def __init__(
        self,
        config: Callable[[], Config],
        store: Store,
        *,
        token: str | None = None,
        public_url: str | None = None,
        clock: Callable[[], datetime],
        assign_stories: Callable[[], object] | None = None,
        pending_entries: Callable[[DigestConfig], int] | None = None,
    ) -> None:
        self.config = config
        # The entries the next run of a digest would show (the daemon passes the
        # digest preview's count; without it, the unclaimed items are counted).
        self.pending_entries = pending_entries
        # Stories are assigned by the process that sends digests; the daemon lets the
        # dashboard ask for it too, so items group into stories before the next digest.
        self.assign_stories = assign_stories
        self.store = store
        self.token = token
        self.clock = clock
        self.signer = FeedbackSigner(token) if token else None
        self.secure_cookies = bool(public_url and public_url.startswith("https://"))
        self.sessions = Sessions()
        self.login_throttle = LoginThrottle()
        self.csrf = CsrfTokens()
        templates = shipped_templates_dir()
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates / "dashboard"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.stylesheet = (
            (templates / "digest.css").read_bytes()
            + b"\n"
            + (templates / "dashboard" / "dashboard.css").read_bytes()
        )

    @staticmethod
    def owns(path: str) -> bool:
        """Whether ``path`` is one of the dashboard's."""
        return (
            path in _PAGES
            or _ITEM_PATH.fullmatch(path) is not None
            or _TOPIC_PATH.fullmatch(path) is not None
        )

    def handle(self, request: WebRequest) -> WebResponse:
        """The response to a request for one of the dashboard's paths."""
        page = _Page(self, request)
        try:
            return page.respond()
        except StoreError as exc:
            log.error("dashboard: %s %s: %s", request.method, request.path, exc)
            return page.message(503, "The database is not answering", str(exc))
        except Exception:  # the request's boundary: the daemon must keep serving
            log.exception("dashboard: %s %s failed", request.method, request.path)
            return WebResponse(500, b"internal error\n", "text/plain; charset=utf-8")


class _Page:
    """One request's handling: who asks, their CSRF token, the response."""

    def __init__(self, app: Dashboard, request: WebRequest) -> None:
        self.app = app
        self.request = request
        self.now = app.clock()
        offered = request.cookies.get(CSRF_COOKIE, "")
        self.new_browser = _BROWSER_ID.fullmatch(offered) is None
        self.browser_id = CsrfTokens.new_browser_id() if self.new_browser else offered
        self.session_id = request.cookies.get(SESSION_COOKIE)
        self.signed_in = app.sessions.valid(self.session_id, self.now)
        self.authenticated = app.token is None or request.bearer_ok or self.signed_in

    # -- routing ---------------------------------------------------------------------

    def respond(self) -> WebResponse:
        request, path = self.request, self.request.path
        if path == STYLESHEET:
            return WebResponse(
                200,
                self.app.stylesheet,
                "text/css; charset=utf-8",
                {"Cache-Control": "no-cache"},
            )
        reading = request.method in ("GET", "HEAD")
        if not reading and request.method != "POST":
            return self.message(405, "Method not allowed", "", {"Allow": "GET, HEAD, POST"})
        if (
            not reading
            and not request.bearer_ok
            and not self.app.csrf.check(self.browser_id, request.form.get("csrf"))
        ):
            return self.message(
                403,
                "This form has expired",
                "The form's security token did not match. Go back, reload the page "
                "and send it again.",
            )
        if path == "/login":
            return self.login_form() if reading else self.login()
        if path == "/feedback":
            return self.feedback_form() if reading else self.feedback()
        if not self.authenticated:
            if reading:
                return self.render("login.html", {"next": path, "error": ""}, status=401)
            return self.message(401, "Sign in first", "This action needs you to sign in.")
        if path == "/logout" and not reading:
            return self.logout()
        if path == "/label" and not reading:
            return self.label()
        if reading and path != "/sources" and self.app.assign_stories is not None:
            self.app.assign_stories()
        if reading and path == "/":
            window = request.query.get("window", views.DEFAULT_WINDOW)
            stories = views.index_page(self.app.config(), self.app.store, self.now, window)
            return self.render("index.html", {"page": stories, "windows": views.WINDOWS})
        if reading and path == "/sources":
            page = sources.sources_page(
                self.app.config(), self.app.store, self.now, self.app.pending_entries
            )
            return self.render("sources.html", {"page": page})
        if reading and (found := _ITEM_PATH.fullmatch(path)) is not None:
            return self.item(int(found.group(1)))
        if (found := _TOPIC_PATH.fullmatch(path)) is not None:
            return self.topic(found.group(1))
        return self.message(405, "Method not allowed", "", {"Allow": "GET, HEAD"})

    # -- pages -----------------------------------------------------------------------

    def item(self, item_id: int) -> WebResponse:
        try:
            page = detail.item_page(self.app.config(), self.app.store, item_id)
        except KeyError:
            return self.message(404, "No such item", f"No item {item_id} is stored.")
        return self.render("item.html", {"page": page})

    def topic(self, name: str) -> WebResponse:
        config = self.app.config()
        backtest = None
        try:
            if self.request.method == "POST":
                backtest = detail.run_backtest(
                    config,
                    self.app.store,
                    self.now,
                    name,
                    self.request.form.get("query", ""),
                    self.request.form.get("window", "7d"),
                )
            page = detail.topic_page(config, self.app.store, self.now, name, backtest)
        except KeyError:
            return self.message(404, "No such topic", f"No topic is named {name!r}.")
        return self.render("topic.html", {"page": page, "windows": list(detail.BACKTEST_WINDOWS)})

    def label(self) -> WebResponse:
        form = self.request.form
        item_id, topic, verdict = _int(form.get("item")), form.get("topic", ""), form.get("verdict")
        if item_id is None or verdict not in VERDICTS or not self._known_topic(topic, item_id):
            return self.message(
                400, "Bad feedback", "The form names no known item, topic or verdict."
            )
        try:
            self.app.store.set_label(item_id, topic, VERDICTS[verdict], origin="web", now=self.now)
        except KeyError:
            return self.message(404, "No such item", f"No item {item_id} is stored.")
        back = _local_path(form.get("back", "/"))
        return self.redirect(f"{back}#item-{item_id}-{topic}")

    def _known_topic(self, topic: str, item_id: int) -> bool:
        if topic in views.topic_titles(self.app.config()):
            return True
        try:
            return any(match.topic == topic for match in self.app.store.item(item_id).matches)
        except KeyError:
            return False

    def feedback_form(self) -> WebResponse:
        signed = self._signed_feedback(self.request.query)
        if isinstance(signed, WebResponse):
            return signed
        item_id, topic, verdict = signed
        try:
            stored = self.app.store.item(item_id)
        except KeyError:
            return self.message(404, "No such item", "The item of this link is no longer stored.")
        return self._feedback_page(
            item_id, topic, verdict, stored, signature=self.request.query.get("sig", "")
        )

    def feedback(self) -> WebResponse:
        signed = self._signed_feedback(self.request.form)
        if isinstance(signed, WebResponse):
            return signed
        item_id, topic, verdict = signed
        try:
            self.app.store.set_label(
                item_id, topic, VERDICTS[verdict], origin="email", now=self.now
            )
            stored = self.app.store.item(item_id)
        except KeyError:
            return self.message(404, "No such item", "The item of this link is no longer stored.")
        return self._feedback_page(item_id, topic, verdict, stored, signature="", recorded=True)

    def _feedback_page(
        self,
        item_id: int,
        topic: str,
        verdict: str,
        stored: StoredItem,
        *,
        signature: str,
        recorded: bool = False,
    ) -> WebResponse:
        """The page of a digest's feedback link: asking to confirm, or confirming."""
        values = {
            "item_id": item_id,
            "topic": topic,
            "topic_title": views.topic_titles(self.app.config()).get(topic, topic),
            "verdict": verdict,
            "relevant": VERDICTS[verdict],
            "signature": signature,
            "card": views.source_ref(stored),
            "recorded": recorded,
        }
        return self.render("feedback.html", values)

    def _signed_feedback(self, fields: Mapping[str, str]) -> tuple[int, str, str] | WebResponse:
        signer = self.app.signer
        item_id, topic, verdict = (
            _int(fields.get("item")),
            fields.get("topic", ""),
            fields.get("verdict", ""),
        )
        if signer is None:
            return self.message(404, "Feedback links are off", "Set http.token to use them.")
        if item_id is None or not signer.verify(item_id, topic, verdict, fields.get("sig", "")):
            return self.message(
                403, "This link is not valid", "It was changed, or signed with another token."
            )
        return item_id, topic, verdict

    # -- signing in ------------------------------------------------------------------

    def login_form(self) -> WebResponse:
        if self.app.token is None or self.authenticated:
            return self.redirect(_local_path(self.request.query.get("next", "/")))
        return self.render("login.html", {"next": self.request.query.get("next", "/"), "error": ""})

    def login(self) -> WebResponse:
        target = _local_path(self.request.form.get("next", "/"))
        if self.app.token is None:
            return self.redirect(target)
        offered = self.request.form.get("token", "")
        if self.app.login_throttle.blocked(self.now):
            return self.message(
                429, "Too many attempts", "Too many wrong tokens; try again in a minute."
            )
        if not hmac.compare_digest(offered.encode(), self.app.token.encode()):
            log.warning("dashboard: a sign-in with a wrong token")
            self.app.login_throttle.failed(self.now)
            return self.render(
                "login.html", {"next": target, "error": "That is not the token."}, status=401
            )
        session_id = self.app.sessions.create(self.now)
        cookie = cookie_header(
            SESSION_COOKIE,
            session_id,
            secure=self.app.secure_cookies,
            max_age=int(self.app.sessions.lifetime.total_seconds()),
        )
        return self.redirect(target, {"Set-Cookie": cookie})

    def logout(self) -> WebResponse:
        self.app.sessions.end(self.session_id)
        cookie = cookie_header(SESSION_COOKIE, "", secure=self.app.secure_cookies, max_age=0)
        return self.redirect("/login" if self.app.token else "/", {"Set-Cookie": cookie})

    # -- responses -------------------------------------------------------------------

    def render(self, template: str, values: Mapping[str, Any], *, status: int = 200) -> WebResponse:
        context = {
            **values,
            "csrf": self.app.csrf.token(self.browser_id),
            "signed_in": self.signed_in,
            "token_required": self.app.token is not None,
            "path": self.request.path,
            "back": self._back(),
            "stylesheet": STYLESHEET,
        }
        body = self.app.environment.get_template(template).render(context).encode("utf-8")
        headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}
        if self.new_browser:
            headers["Set-Cookie"] = cookie_header(
                CSRF_COOKIE, self.browser_id, secure=self.app.secure_cookies
            )
        return WebResponse(status, body, "text/html; charset=utf-8", headers)

    def _back(self) -> str:
        """Where a feedback form on this page returns to: this page."""
        query = self.request.query if self.request.method != "POST" else {}
        return self.request.path + ("?" + urlencode(query) if query else "")

    def message(
        self, status: int, title: str, text: str, headers: Mapping[str, str] | None = None
    ) -> WebResponse:
        response = self.render("message.html", {"title": title, "text": text}, status=status)
        if headers:
            return WebResponse(
                response.status,
                response.body,
                response.content_type,
                {**response.headers, **headers},
            )
        return response

    def redirect(self, location: str, headers: Mapping[str, str] | None = None) -> WebResponse:
        # 303: the browser follows a POST's answer with a GET, so a reload does not re-send.
        return WebResponse(
            303, b"", "text/plain; charset=utf-8", {"Location": location, **(headers or {})}
        )


def _int(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _local_path(target: str) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirect)."""
    if (
        not target.isascii()
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 0x21 or ord(char) == 0x7F for char in target)
    ):
        return "/"
    return target
