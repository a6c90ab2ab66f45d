"""Container health probe: exit 0 when the URL answers 2xx in time, 1 otherwise.

Standard library only, so every image (python:slim, the CUDA node) can run it without curl.
Redirects count as failures: a probe redirected to HTTPS is not reaching the app.

    python healthcheck.py http://127.0.0.1:8000/api/v1/health --allowed-host
"""

import argparse
import os
import sys
import urllib.error
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def allowed_host() -> str | None:
    """The first concrete ALLOWED_HOSTS entry, so Django accepts the probe's Host header."""
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = entry.strip().lstrip(".")
        if host and host != "*":
            return host
    return None


def probe(url: str, host: str | None, timeout: float) -> str | None:
    """None when healthy, else why not."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url!r}"
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} from {url}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} unreachable: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status} from {url}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument(
        "--allowed-host",
        action="store_true",
        help="send the first ALLOWED_HOSTS entry as the Host header",
    )
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    problem = probe(args.url, allowed_host() if args.allowed_host else None, args.timeout)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
