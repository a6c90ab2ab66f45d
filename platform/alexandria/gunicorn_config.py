"""gunicorn settings for the web role (``gunicorn -c python:alexandria.gunicorn_config``).

Threaded workers keep connections alive between requests (nodes and the TLS proxy reuse
them) and overlap database waits; each thread keeps its own persistent database connection.
"""

import gc
import os

wsgi_app = "alexandria.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 30
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# Off unless set ("-" is stdout): the TLS proxy in front usually keeps the access log.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# Load Django once in the master, URL configuration included (Django otherwise imports it,
# with every view module, on each worker's first request), and fork the workers from there.
preload_app = True


def when_ready(server):
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (importing every view module is the point)
    # Keep the collector off the objects the workers inherit, so they stay shared pages, and
    # let it run less often: a request allocates thousands of short-lived objects.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
