"""POST/GET /api/v1/mod/takedowns: staff signed in, or the bot for a moderator; nobody else."""

import pytest
from rest_framework.test import APIClient

from alexandria.contributors.services import contributor_for_user
from alexandria.jobs.services.nodes import register_node
from alexandria.sources.models import Source, Takedown
from alexandria.sources.services import Citation, submit_text

MODERATOR_ID = "100000000000000055"
URL = "/api/v1/mod/takedowns"


@pytest.fixture
def source(db):
    return submit_text(
        "A pirated chapter about the migration of eels to the Sargasso Sea.",
        citation=Citation(title="Eels", url="https://pirate.example/eels"),
        submitted_by=None,
    ).source


def test_staff_take_a_source_down_and_read_the_register(staff_client, source):
    response = staff_client.post(
        URL, {"scope": "url", "value": source.url, "reason": "rights holder"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True
    assert body["removed_now"] == [source.pk]
    assert body["takedown"]["scope"] == "url"
    assert body["takedown"]["requested_by"] == "moderator"
    assert body["takedown"]["removed_sources"] == [source.pk]
    assert not Source.objects.filter(pk=source.pk).exists()

    again = staff_client.post(
        URL, {"scope": "url", "value": source.url, "reason": "reminder"}, format="json"
    )
    assert again.status_code == 200 and again.json()["removed_now"] == []

    listing = staff_client.get(URL)
    assert listing.status_code == 200
    [entry] = listing.json()["results"]
    assert entry["id"] == body["takedown"]["id"] and entry["reason"] == "rights holder"


def test_the_bot_takes_down_for_a_moderator(settings, bot_client_for, source):
    settings.DISCORD_MODERATOR_IDS = [MODERATOR_ID]
    response = bot_client_for(MODERATOR_ID, "Mod").post(
        URL, {"scope": "domain", "value": "pirate.example", "reason": "notice"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["takedown"]["requested_by"] == "Mod"
    assert not Source.objects.filter(pk=source.pk).exists()


def test_members_nodes_and_strangers_are_refused(bot_client, staff_user, anonymous_client, source):
    body = {"scope": "source", "value": str(source.pk), "reason": "mine now"}
    assert bot_client.post(URL, body, format="json").status_code == 403
    assert bot_client.get(URL).status_code == 403
    # A node's token authenticates its owner, but even a staff member's node can't do this.
    node = register_node(
        contributor_for_user(staff_user), name="box", capabilities={"kinds": ["clip_score"]}
    )
    node_client = APIClient()
    node_client.credentials(HTTP_AUTHORIZATION=f"Node {node.token}")
    assert node_client.post(URL, body, format="json").status_code == 403
    assert anonymous_client.post(URL, body, format="json").status_code in (401, 403)
    assert Source.objects.filter(pk=source.pk).exists()
    assert not Takedown.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"scope": "sha256", "value": "xyz", "reason": "r"}, 400, "64 hexadecimal"),
        ({"scope": "source", "value": "424242", "reason": "r"}, 404, "no source #424242"),
        ({"scope": "title", "value": "Eels", "reason": "r"}, 400, "title"),
        ({"scope": "url", "value": "https://pirate.example/eels"}, 400, "reason"),
    ],
)
def test_requests_that_name_nothing_get_a_clear_error(staff_client, source, body, status, words):
    response = staff_client.post(URL, body, format="json")
    assert response.status_code == status
    assert words in str(response.json())
    assert Source.objects.filter(pk=source.pk).exists()
