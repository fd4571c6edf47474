"""The long-running process: where polls and sends run, and how it is watched.

scheduler    APScheduler jobs, the delivery thread, signals, reload (run_daemon)
executors    polls on a local thread pool; celery_app and leadership for workers
endpoint     /healthz, /metrics and Atom feeds over HTTP; metrics: the counters
liveness     the promises /healthz and `watcher status` check (late deliveries,
             overdue sources)
"""
