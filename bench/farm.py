"""A local feed farm for benchmarks: N pre-rendered RSS and Atom feeds on 127.0.0.1.

    python bench/farm.py [--feeds N] [--seed S] [--port P] [--lifetime SECONDS] [--latency S]
    python bench/farm.py --capacity [--feeds N]     # start a farm, measure it, stop

Every feed is generated from the seed: 20-30 items of world news (titles and HTML
summaries built from templates below, some of them about leaders travelling and
military parades, so the shipped topics match a few), 15-40 KB per body. Two feeds
in three are RSS 2.0, the rest Atom 1.0. Bodies are rendered (and gzipped) once,
when a feed changes, never per request.

    GET  /feeds/{n}.xml               feed n; ETag and Last-Modified; 304 when the
                                      request's If-None-Match (else If-Modified-Since)
                                      still holds; gzip when the client accepts it
    POST /control/advance?fraction=F  F of the feeds (chosen at random) gain 1-3 items
    GET  /control/stats               JSON: requests served by status, the farm's CPU
    POST /control/stop                stop serving

The server binds 127.0.0.1 only and stops by itself after ``--lifetime`` seconds
or when the process that started it goes away.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# --- vocabulary (invented people; real places) ---------------------------------------------

ROLES = ("President", "Prime Minister", "Chancellor", "King", "Premier", "Foreign Minister")
SURNAMES = (
    "Adeyemi", "Lindqvist", "Moreau", "Tanaka", "Kowalski", "Haddad", "Okonkwo", "Varga",
    "Santos", "Nakamura", "Petrov", "Mwangi", "Castillo", "Fischer", "Rahman", "Ibarra",
    "Novak", "Sato", "Kaur", "Osei", "Brennan", "Delacroix", "Halvorsen", "Quispe",
)  # fmt: skip
COUNTRIES = (
    "Kenya", "Ghana", "Peru", "Chile", "Norway", "Poland", "Japan", "Vietnam", "Indonesia",
    "Brazil", "Egypt", "Morocco", "Canada", "Mexico", "Turkey", "Greece", "India", "Nepal",
    "Australia", "Argentina", "Nigeria", "Ethiopia", "Portugal", "Finland", "Mongolia",
    "Kazakhstan", "Colombia", "Senegal", "Thailand", "Philippines", "Uruguay", "Paraguay",
    "Bolivia", "Ecuador", "Ireland", "Iceland", "Estonia", "Latvia", "Lithuania", "Romania",
    "Bulgaria", "Croatia", "Serbia", "Albania", "Austria", "Hungary", "Slovakia", "Denmark",
    "Sweden", "Spain", "Italy", "Tunisia", "Algeria", "Jordan", "Oman", "Qatar", "Kuwait",
    "Pakistan", "Bangladesh", "Sri Lanka", "Malaysia", "Cambodia", "Laos", "Fiji", "Samoa",
    "Tanzania", "Uganda", "Rwanda", "Zambia", "Malawi", "Namibia", "Botswana", "Angola",
    "Mozambique", "Madagascar", "Cameroon", "Gabon", "Benin", "Togo", "Mali", "Niger",
    "Chad", "Sudan", "Somalia", "Djibouti", "Eritrea", "Georgia", "Armenia", "Azerbaijan",
    "Uzbekistan", "Kyrgyzstan", "Tajikistan", "Panama", "Guatemala", "Honduras", "Cuba",
)  # fmt: skip
CITIES = (
    "Nairobi", "Accra", "Lima", "Santiago", "Oslo", "Warsaw", "Tokyo", "Hanoi", "Jakarta",
    "Brasilia", "Cairo", "Rabat", "Ottawa", "Ankara", "Athens", "New Delhi", "Kathmandu",
    "Canberra", "Buenos Aires", "Abuja", "Addis Ababa", "Lisbon", "Helsinki", "Ulaanbaatar",
    "Astana", "Bogota", "Dakar", "Bangkok", "Manila", "Geneva", "Montevideo", "Asuncion",
    "La Paz", "Quito", "Dublin", "Reykjavik", "Tallinn", "Riga", "Vilnius", "Bucharest",
    "Sofia", "Zagreb", "Belgrade", "Tirana", "Vienna", "Budapest", "Bratislava", "Copenhagen",
    "Stockholm", "Madrid", "Rome", "Tunis", "Algiers", "Amman", "Muscat", "Doha", "Islamabad",
    "Dhaka", "Colombo", "Kuala Lumpur", "Phnom Penh", "Vientiane", "Suva", "Apia", "Dodoma",
    "Kampala", "Kigali", "Lusaka", "Lilongwe", "Windhoek", "Gaborone", "Luanda", "Maputo",
    "Antananarivo", "Yaounde", "Libreville", "Cotonou", "Lome", "Bamako", "Niamey",
    "Khartoum", "Mogadishu", "Tbilisi", "Yerevan", "Baku", "Tashkent", "Bishkek", "Dushanbe",
    "Havana", "Mombasa", "Osaka", "Krakow", "Porto", "Marrakesh", "Istanbul", "Mumbai",
)  # fmt: skip
REGIONS = (
    "the Sahel", "the Horn of Africa", "Central Asia", "the Andes", "the Baltic",
    "the Mekong delta", "the Balkans", "the Caribbean", "the Pacific islands", "the Gulf",
)  # fmt: skip
SUBJECTS = (
    "fishing rights", "grain exports", "a border dispute", "climate finance", "debt relief",
    "water sharing", "refugee returns", "a rail corridor", "rare earth mining", "vaccine supply",
    "a currency swap", "offshore wind licences", "airspace rules", "a prisoner exchange",
)  # fmt: skip
EVENTS = (
    "a regional summit", "trade talks", "a climate conference", "a state visit",
    "a security forum", "an investment conference", "a donors' meeting",
)  # fmt: skip
PLAIN_HEADLINES = (
    "Floods displace thousands in {region}",
    "Central bank in {country} raises interest rates to {rate}%",
    "{country} election: opposition claims early lead in {city}",
    "Talks on {subject} stall in {city}",
    "Ceasefire holds in {region} as aid convoys move in",
    "Drought pushes food prices higher across {region}",
    "{country} and {country2} sign agreement on {subject}",
    "Protesters gather in {city} over fuel prices",
    "Earthquake of magnitude {magnitude} strikes near {city}",
    "Parliament in {country} passes budget after all-night debate",
    "Strike closes ports in {country} for a second day",
    "{country} court suspends ruling on {subject}",
    "Wildfires force evacuations outside {city}",
    "Inflation in {country} eases for a third month",
    "Opposition leader in {country} released on bail",
)  # fmt: skip
TRAVEL_HEADLINES = (
    "{role} {name} arrives in {city} for {event}",
    "{role} {name} to visit {country} next week",
    "{role} {name} begins three-day trip to {country}",
    "{country} prepares state visit by {role} {name}",
    "{role} {name} travels to {city} for talks on {subject}",
)  # fmt: skip
PARADE_HEADLINES = (
    "Troops rehearse for {country}'s anniversary parade in {city}",
    "{country} holds military parade marking {number}th anniversary",
    "Tanks and missiles roll through {city} in victory day parade",
    "Parade in {city} main square draws crowds and soldiers",
)  # fmt: skip
SENTENCES = (
    "Officials in {city} said {subject} would be on the agenda at {event}.",
    "The ministry said on {weekday} that talks with {country} had made progress.",
    "{role} {name} told reporters the government would not change course.",
    "Analysts expect the decision to weigh on markets in {region} for weeks.",
    "Aid agencies warned that {number},000 people could be affected by the end of the month.",
    "Negotiators from {country} and {country2} are due to meet again in {city}.",
    "The opposition called the plan rushed and demanded a vote in parliament.",
    "Local media reported long queues at fuel stations across {country}.",
    "A spokesperson declined to comment on the timing of the announcement.",
    "Diplomats said a joint statement on {subject} was still being drafted.",
    "Security was tightened around government buildings in {city} on {weekday}.",
    "The agreement, if signed, would be the first of its kind in {region}.",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The farm's clock starts here; every advance moves it on a minute.
EPOCH = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)


def _fill(template: str, rng: random.Random) -> str:
    country, country2 = rng.sample(COUNTRIES, 2)
    return template.format(
        role=rng.choice(ROLES),
        name=rng.choice(SURNAMES),
        country=country,
        country2=country2,
        city=rng.choice(CITIES),
        region=rng.choice(REGIONS),
        subject=rng.choice(SUBJECTS),
        event=rng.choice(EVENTS),
        weekday=rng.choice(WEEKDAYS),
        number=rng.randint(2, 90),
        rate=f"{rng.uniform(2, 14):.2f}",
        magnitude=f"{rng.uniform(4.5, 7.8):.1f}",
    )


def headline(rng: random.Random) -> str:
    """About 8% leader travel and 4% parades, the rest other news."""
    draw = rng.random()
    if draw < 0.08:
        return _fill(rng.choice(TRAVEL_HEADLINES), rng)
    if draw < 0.12:
        return _fill(rng.choice(PARADE_HEADLINES), rng)
    return _fill(rng.choice(PLAIN_HEADLINES), rng)


def summary_html(rng: random.Random, target_chars: int) -> str:
    """HTML paragraphs of about ``target_chars``, with the odd link, emphasis and image."""
    paragraphs: list[str] = []
    size = 0
    while size < target_chars:
        sentences = [escape(_fill(rng.choice(SENTENCES), rng)) for _ in range(rng.randint(2, 4))]
        if rng.random() < 0.3:
            sentences[0] = f"<strong>{sentences[0]}</strong>"
        if rng.random() < 0.25:
            slug = rng.choice(CITIES).lower().replace(" ", "-")
            sentences[-1] += f' <a href="/news/{slug}/{rng.randint(1000, 99999)}">Read more</a>'
        paragraph = "<p>" + " ".join(sentences) + "</p>"
        if rng.random() < 0.1:
            paragraph += f'<img src="/img/{rng.randint(1, 9999)}.jpg" alt="photo" width="640">'
        paragraphs.append(paragraph)
        size += len(paragraph)
    return "\n".join(paragraphs)


# --- feeds ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FarmItem:
    guid: str
    title: str
    link: str
    html: str
    category: str
    published: datetime


@dataclass(frozen=True, slots=True)
class Rendered:
    """One version of a feed as served: the body, gzipped, and its validators."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str
    modified_at: datetime
    content_type: str


@dataclass(slots=True)
class FarmFeed:
    number: int
    atom: bool
    title: str
    item_chars: int
    items: list[FarmItem] = field(default_factory=list)
    version: int = 0
    next_item: int = 0
    rendered: Rendered | None = None


def _new_item(feed: FarmFeed, rng: random.Random, published: datetime) -> FarmItem:
    serial = feed.next_item
    feed.next_item += 1
    title = headline(rng)
    return FarmItem(
        guid=f"farm-{feed.number}-{serial}",
        title=title,
        link=f"http://news{feed.number % 97}.example/{feed.number}/{serial}",
        html=summary_html(rng, feed.item_chars),
        category=rng.choice(("World", "Politics", "Economy", "Asia", "Africa", "Americas")),
        published=published,
    )


def _render(feed: FarmFeed, now: datetime) -> Rendered:
    base = f"http://news{feed.number % 97}.example/{feed.number}"
    if feed.atom:
        entries = "".join(
            f"<entry><title>{escape(item.title)}</title>"
            f'<link rel="alternate" href="{item.link}"/><id>{item.guid}</id>'
            f"<published>{item.published.isoformat()}</published>"
            f"<updated>{item.published.isoformat()}</updated>"
            f"<author><name>{escape(item.category)} desk</name></author>"
            f'<category term="{item.category}"/>'
            f'<summary type="html">{escape(item.html)}</summary></entry>\n'
            for item in feed.items
        )
        text = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'
            f"<title>{escape(feed.title)}</title><id>{base}/</id>"
            f'<link rel="alternate" href="{base}/"/><updated>{now.isoformat()}</updated>\n'
            f"{entries}</feed>\n"
        )
        content_type = "application/atom+xml; charset=utf-8"
    else:
        entries = "".join(
            f"<item><title>{escape(item.title)}</title><link>{item.link}</link>"
            f'<guid isPermaLink="false">{item.guid}</guid>'
            f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>"
            f"<category>{item.category}</category>"
            f"<description><![CDATA[{item.html}]]></description></item>\n"
            for item in feed.items
        )
        text = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(feed.title)}</title><link>{base}/</link>"
            f"<description>World news from desk {feed.number}</description>"
            f"<language>en</language><lastBuildDate>{format_datetime(now, usegmt=True)}"
            f"</lastBuildDate><ttl>15</ttl>\n{entries}</channel></rss>\n"
        )
        content_type = "application/rss+xml; charset=utf-8"
    body = text.encode()
    return Rendered(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag=f'"f{feed.number}-v{feed.version}"',
        last_modified=format_datetime(now, usegmt=True),
        modified_at=now,
        content_type=content_type,
    )


class FeedFarm:
    """The farm's feeds and their rendered bodies; ``advance`` is thread-safe."""

    def __init__(self, count: int, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._clock = EPOCH
        self.feeds: list[FarmFeed] = []
        for number in range(count):
            item_count = self._rng.randint(20, 30)
            # Bodies land between about 15 and 40 KB: per-item summary length varies by feed.
            item_chars = self._rng.randint(17_000, 33_000) // item_count - 450
            feed = FarmFeed(
                number=number,
                atom=number % 3 == 2,
                title=f"{self._rng.choice(CITIES)} Daily World Desk {number}",
                item_chars=max(item_chars, 200),
            )
            start = EPOCH - timedelta(hours=item_count)
            feed.items = [
                _new_item(feed, self._rng, start + timedelta(hours=hour))
                for hour in range(item_count)
            ][::-1]
            feed.rendered = _render(feed, EPOCH)
            self.feeds.append(feed)

    def advance(self, fraction: float) -> int:
        """Give ``fraction`` of the feeds 1-3 new items each (the oldest drop off)."""
        with self._lock:
            self._clock += timedelta(minutes=1)
            count = round(len(self.feeds) * min(max(fraction, 0.0), 1.0))
            for feed in self._rng.sample(self.feeds, count):
                fresh = [
                    _new_item(feed, self._rng, self._clock) for _ in range(self._rng.randint(1, 3))
                ]
                feed.items = fresh[::-1] + feed.items[: len(feed.items) - len(fresh)]
                feed.version += 1
                feed.rendered = _render(feed, self._clock)
            return count

    def body_sizes(self) -> list[int]:
        return [len(feed.rendered.body) for feed in self.feeds if feed.rendered]

    def item_count(self) -> int:
        return sum(len(feed.items) for feed in self.feeds)


def not_modified(
    rendered: Rendered, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or rendered.etag in tags
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return rendered.modified_at <= since
    return False


# --- the server ----------------------------------------------------------------------------


class FarmServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], farm: FeedFarm, latency: float = 0.0) -> None:
        super().__init__(address, FarmHandler)
        self.farm = farm
        # Seconds each feed request waits before its answer, as a distant server's would.
        self.latency = latency
        self.statuses: Counter[int] = Counter()
        self.stats_lock = threading.Lock()


class FarmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in one write; with Nagle on, a second small write
    # waits for the client's delayed ACK (40 ms on Linux).
    disable_nagle_algorithm = True
    # Buffered: handle_one_request flushes once per response.
    wbufsize = 1 << 16
    server: FarmServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        with self.server.stats_lock:
            self.server.statuses[status] += 1

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/feeds/") and path.endswith(".xml"):
            self._serve_feed(path[len("/feeds/") : -len(".xml")])
        elif path == "/control/stats":
            self._send_json(self._stats())
        else:
            self._send(404)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 65536))
        if parts.path == "/control/advance":
            fraction = float(parse_qs(parts.query).get("fraction", ["0.1"])[0])
            self._send_json({"advanced": self.server.farm.advance(fraction)})
        elif parts.path == "/control/stop":
            self._send_json({"stopping": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        else:
            self._send(404)

    def _serve_feed(self, name: str) -> None:
        feeds = self.server.farm.feeds
        if not name.isdigit() or int(name) >= len(feeds):
            self._send(404)
            return
        rendered = feeds[int(name)].rendered
        assert rendered is not None
        if self.server.latency:
            time.sleep(self.server.latency)
        validators = {"ETag": rendered.etag, "Last-Modified": rendered.last_modified}
        if not_modified(
            rendered, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        ):
            self._send(304, headers=validators)
            return
        gzipped = "gzip" in (self.headers.get("Accept-Encoding") or "")
        headers = {"Content-Type": rendered.content_type, **validators, "Vary": "Accept-Encoding"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        self._send(200, rendered.gzipped if gzipped else rendered.body, headers)

    def _stats(self) -> dict[str, object]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with self.server.stats_lock:
            statuses = {str(status): count for status, count in self.server.statuses.items()}
        return {"statuses": statuses, "cpu_seconds": usage.ru_utime + usage.ru_stime}

    def _send_json(self, value: object) -> None:
        self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})


def serve(farm: FeedFarm, port: int, lifetime: float, latency: float = 0.0) -> None:
    """Serve until /control/stop, ``lifetime`` seconds, or the parent process is gone."""
    server = FarmServer(("127.0.0.1", port), farm, latency)
    parent = os.getppid()
    deadline = time.monotonic() + lifetime

    def watchdog() -> None:
        while time.monotonic() < deadline and os.getppid() == parent:
            time.sleep(0.5)
        server.shutdown()

    threading.Thread(target=watchdog, daemon=True).start()
    sizes = farm.body_sizes()
    ready = {
        "url": f"http://127.0.0.1:{server.server_address[1]}",
        "feeds": len(farm.feeds),
        "items": farm.item_count(),
        "body_bytes_min": min(sizes),
        "body_bytes_mean": sum(sizes) // len(sizes),
        "body_bytes_max": max(sizes),
    }
    print(json.dumps(ready), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


# --- starting a farm from another process, and measuring it --------------------------------


def control(farm_url: str, method: str, path: str) -> dict[str, object]:
    """Call a /control endpoint of the farm at ``farm_url``; its JSON answer."""
    parts = urlsplit(farm_url)
    connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        connection.request(method, path)
        result: dict[str, object] = json.loads(connection.getresponse().read())
        return result
    finally:
        connection.close()


class FarmProcess:
    """A farm in a child process (so it does not share the benchmark's GIL)."""

    def __init__(self, feeds: int, seed: int, lifetime: float, latency: float = 0.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--feeds", str(feeds), "--seed", str(seed),
             "--lifetime", str(lifetime), "--latency", str(latency)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the feed farm did not start")
        self.info: dict[str, int | str] = json.loads(line)
        self.url = str(self.info["url"])

    def feed_url(self, number: int) -> str:
        return f"{self.url}/feeds/{number}.xml"

    def control(self, method: str, path: str) -> dict[str, object]:
        return control(self.url, method, path)

    def advance(self, fraction: float) -> int:
        return int(str(self.control("POST", f"/control/advance?fraction={fraction}")["advanced"]))

    def cpu_seconds(self) -> float:
        return float(str(self.control("GET", "/control/stats")["cpu_seconds"]))

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.control("POST", "/control/stop")
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> FarmProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def client_loop(url: str, feeds: int, mode: str, seconds: float, threads: int) -> dict[str, float]:
    """Plain keep-alive GETs from ``threads`` threads for ``seconds``: full bodies or 304s."""
    parts = urlsplit(url)
    counts = [0] * threads
    etags: dict[int, str] = {}
    if mode == "304":
        connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        for number in range(min(feeds, 500)):
            connection.request("GET", f"/feeds/{number}.xml")
            response = connection.getresponse()
            response.read()
            etags[number] = response.getheader("ETag") or ""
        connection.close()
    stop_at = time.monotonic() + seconds

    def worker(slot: int) -> None:
        connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        number = slot
        # Bounded in time and in count.
        while time.monotonic() < stop_at and counts[slot] < 1_000_000:
            headers = {"Accept-Encoding": "gzip"}
            if mode == "304":
                number %= len(etags)
                headers["If-None-Match"] = etags[number]
            connection.request("GET", f"/feeds/{number % feeds}.xml", headers=headers)
            response = connection.getresponse()
            response.read()
            expected = 304 if mode == "304" else 200
            if response.status != expected:
                raise RuntimeError(f"farm answered {response.status}, expected {expected}")
            counts[slot] += 1
            number += threads
        connection.close()

    started = time.perf_counter()
    cpu_started = time.process_time()
    pool = [threading.Thread(target=worker, args=(slot,)) for slot in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": sum(counts),
        "seconds": elapsed,
        "client_cpu_seconds": time.process_time() - cpu_started,
    }


def measure_capacity(
    farm: FarmProcess, seconds: float = 3.0, threads: int = 16
) -> dict[str, dict[str, float]]:
    """Requests/s the farm serves to a client loop in a separate process, full and 304.

    Also the farm's own CPU per request, which bounds its capacity on one core
    whatever the client can do.
    """
    feeds = int(farm.info["feeds"])
    result: dict[str, dict[str, float]] = {}
    for mode in ("full", "304"):
        cpu_before = farm.cpu_seconds()
        output = subprocess.run(
            [sys.executable, __file__, "--client", farm.url, "--mode", mode, "--seconds",
             str(seconds), "--threads", str(threads), "--feeds", str(feeds)],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
        measured = json.loads(output)
        farm_cpu = farm.cpu_seconds() - cpu_before
        requests = measured["requests"]
        measured["requests_per_second"] = requests / measured["seconds"]
        measured["farm_cpu_ms_per_request"] = 1000 * farm_cpu / max(requests, 1)
        measured["farm_one_core_capacity"] = requests / farm_cpu if farm_cpu else float("inf")
        result[mode] = measured
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=1800.0, help="stop after this long")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds each feed request waits"
    )
    parser.add_argument("--capacity", action="store_true", help="start a farm and measure it")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("full", "304"), default="full", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=16, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.client:
        result = client_loop(
            options.client, options.feeds, options.mode, options.seconds, options.threads
        )
        print(json.dumps(result))
    elif options.capacity:
        with FarmProcess(options.feeds, options.seed, lifetime=300) as process:
            print(json.dumps(process.info))
            for mode, figures in measure_capacity(process, options.seconds).items():
                print(
                    f"{mode:>4}: {figures['requests_per_second']:7.0f} requests/s to a "
                    f"{options.threads}-thread client; farm CPU "
                    f"{figures['farm_cpu_ms_per_request']:.3f} ms/request "
                    f"(~{figures['farm_one_core_capacity']:.0f}/s on one core)"
                )
    else:
        started = time.perf_counter()
        farm = FeedFarm(options.feeds, options.seed)
        print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        serve(farm, options.port, options.lifetime, options.latency)


if __name__ == "__main__":
    main()
