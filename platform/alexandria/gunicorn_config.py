"""gunicorn settings for the web role (``gunicorn -c python:alexandria.gunicorn_config``).

Threaded workers keep connections alive between requests (nodes and the TLS proxy reuse
them) and overlap database waits; each thread keeps its own persistent database connection.
"""

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
