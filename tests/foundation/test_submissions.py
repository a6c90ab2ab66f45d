"""Submitting texts: duplicates collapse into one source; bad input gets a clear 4xx."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from alexandria.sources.models import Source

TEXT = "Alexandria keeps anchors. Every fact points at an exact quote in its source."


@pytest.mark.django_db
def test_submitting_the_same_text_twice_yields_one_source(bot_client, bot_client_for):
    first = bot_client.post("/api/v1/sources", {"text": TEXT, "title": "Anchors"}, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["duplicate"] is False
    # Whitespace differences normalise to the same text.
    again = bot_client.post(
        "/api/v1/sources", {"text": TEXT.replace(" ", "  ") + "\n"}, format="json"
    )
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["source"]["id"] == first.json()["source"]["id"]
    # Another member learns it is known, not whose source it is (issue 21).
    other = bot_client_for("100000000000000009").post("/api/v1/sources", {"text": TEXT})
    assert other.status_code == 409 and "source" not in other.json()
    assert Source.objects.count() == 1


@pytest.mark.django_db
def test_submission_records_citation_and_hash(bot_client):
    response = bot_client.post(
        "/api/v1/sources",
        {"text": TEXT, "title": "Anchors", "url": "https://example.org/a", "language": "en"},
        format="json",
    )
    source = response.json()["source"]
    assert source["url"] == "https://example.org/a"
    assert len(source["sha256"]) == 64
    assert source["char_count"] == len(TEXT)
    assert "text" not in source
    assert source["profile"] is None  # nothing analysed yet


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_text_is_refused(bot_client, text):
    response = bot_client.post("/api/v1/sources", {"text": text}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]
    assert Source.objects.count() == 0


@pytest.mark.django_db
def test_zero_byte_file_is_refused(bot_client):
    upload = SimpleUploadedFile("empty.txt", b"", content_type="text/plain")
    response = bot_client.post("/api/v1/sources", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "empty" in str(response.json()).lower()


@pytest.mark.django_db
def test_non_utf8_json_body_gets_a_clear_400(bot_client):
    body = '{"text": "caf\u00e9"}'.encode("latin-1")
    response = bot_client.generic("POST", "/api/v1/sources", body, content_type="application/json")
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["detail"]


@pytest.mark.django_db
def test_non_utf8_file_gets_a_clear_400(bot_client):
    upload = SimpleUploadedFile("latin1.txt", "café au lait".encode("latin-1"), "text/plain")
    response = bot_client.post("/api/v1/sources", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]
    assert Source.objects.count() == 0


@pytest.mark.django_db
def test_oversize_text_gets_413(bot_client, settings):
    settings.SUBMISSION_MAX_BYTES = 1000
    response = bot_client.post("/api/v1/sources", {"text": "word " * 300}, format="json")
    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["detail"]


@pytest.mark.django_db
def test_oversize_body_is_refused_before_parsing(bot_client, settings):
    settings.SUBMISSION_MAX_BYTES = 100
    response = bot_client.post("/api/v1/sources", {"text": "x" * 700_000}, format="json")
    assert response.status_code == 413


@pytest.mark.django_db
def test_text_and_file_together_are_refused(bot_client):
    upload = SimpleUploadedFile("a.txt", b"hello there", content_type="text/plain")
    response = bot_client.post(
        "/api/v1/sources", {"file": upload, "text": "also text"}, format="multipart"
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_members_see_only_their_own_sources(bot_client, bot_client_for):
    bot_client.post("/api/v1/sources", {"text": TEXT}, format="json")
    other = bot_client_for("100000000000000007")
    assert other.get("/api/v1/sources").json()["count"] == 0
    assert bot_client.get("/api/v1/sources").json()["count"] == 1
