"""Fixtures for the job system: nodes registered through the real API, clip_score jobs."""

import base64
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from alexandria.jobs.models import WorkerNode
from alexandria.jobs.services import create_job


@dataclass
class RegisteredNode:
    id: int
    token: str
    client: APIClient

    @property
    def model(self) -> WorkerNode:
        return WorkerNode.objects.get(pk=self.id)

    def lease(self, max_jobs: int = 1, **body):
        return self.client.post("/api/v1/jobs/lease", {"max_jobs": max_jobs, **body}, format="json")

    def submit(self, lease_id, output, stats=None):
        return self.client.post(
            f"/api/v1/leases/{lease_id}/submit",
            {"output": output, "stats": stats or {"elapsed_s": 1.0}},
            format="json",
        )

    def heartbeat(self, lease_id):
        return self.client.post(f"/api/v1/leases/{lease_id}/heartbeat", {}, format="json")

    def fail(self, lease_id, error="boom", release=False):
        return self.client.post(
            f"/api/v1/leases/{lease_id}/fail", {"error": error, "release": release}, format="json"
        )


@pytest.fixture(autouse=True)
def _jobs_settings(settings):
    settings.REPLICATION_SAMPLE_RATE = 0.0
    settings.TRUST_THRESHOLD = 0.5
    cache.clear()


def node_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {token}")
    return client


@pytest.fixture
def register_node(bot_client_for, db):
    """Register a node through POST /api/v1/nodes for a member (by Discord id)."""

    def register(
        discord_id: str = "100000000000000001", name: str = "gpu-1", kinds=("clip_score",)
    ) -> RegisteredNode:
        response = bot_client_for(discord_id, f"member-{discord_id[-3:]}").post(
            "/api/v1/nodes",
            {"name": name, "capabilities": {"kinds": list(kinds), "gpu": "RTX 4090"}},
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        return RegisteredNode(body["id"], body["token"], node_client(body["token"]))

    return register


def clip_payload(pair_count: int = 2, threshold: float = 0.28) -> dict:
    image = base64.b64encode(b"\x89PNG fake").decode()
    return {
        "pairs": [
            {"id": f"p{i}", "text": f"caption {i}", "image_b64": image} for i in range(pair_count)
        ],
        "threshold": threshold,
    }


def clip_output(payload: dict, similarity: float = 0.5) -> dict:
    threshold = payload.get("threshold", 0.28)
    return {
        "model": payload.get("model", "ViT-B-32"),
        "scores": [
            {"id": pair["id"], "similarity": similarity, "keep": similarity > threshold}
            for pair in payload["pairs"]
        ],
    }


@pytest.fixture
def clip_job(db):
    def make(pair_count: int = 2, **kwargs):
        return create_job("clip_score", clip_payload(pair_count), **kwargs)

    return make
