"""The long-running process: where polls and sends run, and how it is watched.

process      one daemon process: the single-daemon lock, signals, the election
scheduler    the Daemon: APScheduler jobs, dispatcher and delivery threads, reload
cron         digest schedules read as crontab(5) reads them (pure)
executors    polls on a local thread pool; celery_app and leadership for workers
endpoint     /healthz, /metrics, Atom feeds and the dashboard over HTTP; metrics;
             httpserver bounds its connections, threads and time per request
liveness     the promises /healthz and `watcher status` check (late deliveries,
             overdue sources)
"""
