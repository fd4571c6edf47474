"""The dashboard: a small server-rendered web UI on the daemon's HTTP endpoint.

    web       the request and response values, form, query and cookie parsing
    security  sessions, CSRF tokens, the security headers of an HTML page
    links     signed feedback links for digest emails (stdlib only: the pipeline imports it)
    views     values for each page, gathered from the store, the config and the matcher
    app       routing, authentication and rendering (Jinja2, templates/dashboard/)

Nothing is imported here, so ``watcher.dashboard.links`` stays cheap for the
pipeline, which must not pull in the scheduler (the app reads its triggers).
"""
