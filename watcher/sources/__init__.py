"""Everything inbound, and the only HTTP: fetching, parsing feeds, web pages.

fetch       conditional GET with one total deadline, size limits, manual redirects;
            fetchresults, fetchfailures, redirects, throttle, deadline (the watchdog)
netguard    the SSRF guard: refuse private addresses on every hop and connection
hints       Retry-After, max-age, ttl, sy:update* read into bounded ranges
robots      robots.txt (RFC 9309, protego) for pages and articles
feeds       RSS, Atom, RDF and JSON Feed bytes -> Items (feedparser; XML guard first);
            jsonfeed, hazards (the XML pre-scan), feeditems, itemcaps (field limits)
pages       links of a listing page by CSS selector
watches     a watched page's text and what changed in it
articles    an item's article fetched politely; extract: its text (trafilatura)
advertised  the feeds an HTML page points at (pure)
discover    what a URL a user typed is, and feeds.yaml entries; opml: subscriptions
"""
