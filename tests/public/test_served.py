"""Acceptance: an anonymous HTTP client (as curl) gets answers with citations from the search
page and the public API of a running server; ``alexandria serve`` refuses a missing store."""

import requests

from alexandria.cli import main

QUESTION = "Does exercise improve sleep quality?"


def test_anonymous_http_reads_return_citations(live_server, store):
    page = requests.get(f"{live_server.url}/", params={"q": QUESTION}, timeout=60)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Sleep and habits" in page.text and "<mark>" in page.text
    assert page.headers["Content-Security-Policy"]
    api = requests.get(
        f"{live_server.url}/api/v1/public/search", params={"q": QUESTION}, timeout=60
    ).json()
    citation = api["results"][0]["sources"][0]
    assert citation["span_sha256"] and citation["title"] == "Sleep and habits"
    css = requests.get(f"{live_server.url}/static/public/site.css", timeout=10)
    assert css.status_code == 200 and ".sides" in css.text


def test_serve_refuses_a_var_dir_without_data(tmp_path, capsys):
    assert main(["serve", "--var-dir", str(tmp_path / "nothing")]) == 2
    assert "make demo" in capsys.readouterr().err
