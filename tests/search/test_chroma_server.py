"""The index against a real Chroma server process (``chroma run``), rebuilt from the database."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from alexandria.search.querying import ask
from alexandria.search.vector_index import VectorIndex

START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path, settings):
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(chroma).exists():
        pytest.skip("the chroma command is not installed (pip install chromadb)")
    port = free_port()
    process = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start on port {port}")
            time.sleep(0.2)
        settings.CHROMA_URL = url
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_rebuild_index_against_a_chroma_server(kb, chroma_server, capsys, settings):
    source = kb.source(
        "Bees", "Honey bees dance to show where food is.", url="https://example.org/bees"
    )
    item = kb.item(
        "Honey bees communicate food locations by dancing.",
        anchors=[kb.anchor(source, "Honey bees dance to show where food is")],
        status="accepted",
    )
    kb.item("This claim was rejected.", status="rejected")

    call_command("rebuild_index")

    assert "Indexed 1 items, 0 figures." in capsys.readouterr().out
    index = VectorIndex()
    assert index.count(1) == 1
    # Everything went to the server, nothing to the embedded index of this test.
    assert kb.index.layers() == []
    assert any((settings.CHROMA_PATH.parent / "server").iterdir())
    result = ask("How do bees tell each other where food is?", index=index)
    assert [answer.item.id for answer in result.results] == [item.pk]
    assert result.results[0].sources[0].fragment == "Honey bees dance \u2026 where food is"
    # Rebuilding again replaces, never duplicates.
    call_command("rebuild_index")
    assert VectorIndex().count(1) == 1
