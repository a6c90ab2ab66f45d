"""A WSGI app that answers every exchange call at once: each result accepted, one job leased.

``lease_bench.py`` serves it with the same gunicorn workers and drives it with the same load
generators as the real server, to show what the HTTP layer alone (gunicorn, the sockets and
the load generators) costs and allows on this machine.
"""

import json

ACCEPTED = {"status": 200}
JOB = {"job_id": 0, "lease_id": "0"}


def application(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    results = json.loads(body).get("results", []) if body else []
    reply = json.dumps({"results": [ACCEPTED] * len(results), "jobs": [JOB]}).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(reply)))]
    )
    return [reply]
