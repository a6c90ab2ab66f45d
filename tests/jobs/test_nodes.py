"""Node registration, listing, revocation and who may use a node token."""

import hashlib

from alexandria.contributors.models import Contributor
from alexandria.contributors.services import ban_contributor
from alexandria.jobs.models import Job, Lease, WorkerNode


def test_registration_shows_the_token_once_and_stores_only_its_hash(bot_client, settings):
    settings.PUBLIC_BASE_URL = "https://alexandria.example"
    response = bot_client.post(
        "/api/v1/nodes",
        {
            "name": "gpu-1",
            "capabilities": {
                "kinds": ["clip_score"],
                "models": ["ViT-B-32"],
                "max_context_tokens": 8192,
                "gpu": "A100",
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert body["start_command"] == (
        f"alexandria-worker --server https://alexandria.example --token {token}"
    )
    assert body["trust"] == 0.0
    assert body["capabilities"]["kinds"] == ["clip_score"]
    node = WorkerNode.objects.get(pk=body["id"])
    assert node.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(WorkerNode.objects.filter(pk=node.pk).values().get())
    listing = bot_client.get("/api/v1/nodes").json()
    assert listing["count"] == 1
    assert "token" not in listing["results"][0]
    assert token not in str(listing)
    assert listing["results"][0]["jobs_done"] == 0
    assert listing["results"][0]["credit"] == "0.000"


def test_unknown_kinds_and_duplicate_names_are_refused(bot_client):
    response = bot_client.post(
        "/api/v1/nodes", {"name": "n", "capabilities": {"kinds": ["mine_bitcoin"]}}, format="json"
    )
    assert response.status_code == 400
    assert "mine_bitcoin" in response.json()["detail"]
    ok = {"name": "n", "capabilities": {"kinds": ["clip_score"]}}
    assert bot_client.post("/api/v1/nodes", ok, format="json").status_code == 201
    again = bot_client.post("/api/v1/nodes", ok, format="json")
    assert again.status_code == 400
    assert "already have a node" in again.json()["detail"]


def test_nodes_me_and_members_only_see_their_own_nodes(register_node, bot_client_for):
    mine = register_node("100000000000000001")
    register_node("100000000000000002", name="other")
    me = mine.client.get("/api/v1/nodes/me")
    assert me.status_code == 200
    assert me.json()["id"] == mine.id
    assert me.json()["online"] is True
    assert set(me.json()) >= {"id", "name", "capabilities", "trust", "is_flagged"}
    listing = bot_client_for("100000000000000001").get("/api/v1/nodes").json()
    assert [n["id"] for n in listing["results"]] == [mine.id]
    # A node token is not a member: it can't list or register nodes.
    assert mine.client.get("/api/v1/nodes").status_code == 403


def test_revoke_by_owner_releases_leases_and_locks_the_node_out(
    register_node, bot_client_for, clip_job
):
    node = register_node()
    job = clip_job()
    lease_id = node.lease().json()["jobs"][0]["lease_id"]
    stranger = bot_client_for("100000000000000009")
    assert stranger.post(f"/api/v1/nodes/{node.id}/revoke").status_code == 404
    response = bot_client_for("100000000000000001").post(f"/api/v1/nodes/{node.id}/revoke")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert Lease.objects.get(pk=lease_id).state == Lease.State.RELEASED
    refused = node.lease()
    assert refused.status_code == 403
    assert "revoked" in refused.json()["detail"]


def test_staff_may_revoke_any_node(register_node, staff_client):
    node = register_node()
    assert staff_client.post(f"/api/v1/nodes/{node.id}/revoke").status_code == 200
    assert node.client.get("/api/v1/nodes/me").status_code == 403


def test_nodes_of_a_banned_member_are_refused(register_node):
    node = register_node()
    ban_contributor(Contributor.objects.get(discord_id="100000000000000001"), reason="spam")
    response = node.lease()
    assert response.status_code == 403
    assert "banned" in response.json()["detail"]


def test_unknown_token_is_refused(anonymous_client, db):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Node anode_nope")
    assert anonymous_client.post("/api/v1/jobs/lease", {}, format="json").status_code in (401, 403)
