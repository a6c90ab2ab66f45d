"""Fixtures for the job system: nodes registered through the real API, clip_score jobs, and
``queue_path`` to run the job protocol through both of its implementations."""

import base64
import time
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from alexandria.jobs import throttles
from alexandria.jobs.models import WorkerNode
from alexandria.jobs.services import leasing
from alexandria.jobs.services.lifecycle import create_job


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

    def exchange(self, results=(), **body):
        """POST /jobs/exchange; ``results`` are (lease id, output[, stats]) tuples or dicts."""
        items = [
            item
            if isinstance(item, dict)
            else {
                "lease_id": str(item[0]),
                "output": item[1],
                "stats": item[2] if len(item) > 2 else {"elapsed_s": 1.0},
            }
            for item in results
        ]
        return self.client.post("/api/v1/jobs/exchange", {"results": items, **body}, format="json")

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


@pytest.fixture(params=["pg_queue", "orm"])
def queue_path(request, monkeypatch) -> str:
    """Run a test through each implementation of leasing and submitting: the hand-written
    PostgreSQL statements (``pg_queue``) and the portable ORM path that SQLite always uses.
    Modules of protocol tests use it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    if request.param == "pg_queue" and connection.vendor != "postgresql":
        pytest.skip("pg_queue runs only on PostgreSQL; on SQLite it would repeat the orm variant")
    monkeypatch.setattr(leasing, "USE_PG_QUEUE", request.param == "pg_queue")
    return request.param


# Mid-day, mid-hour and mid-minute of a fixed day.
_MID_WINDOW = 20_000 * 86_400 + 12 * 3_600 + 30 * 60 + 30


@pytest.fixture
def node_rates(monkeypatch):
    """Set the node throttle's rates for a test. The throttle counts in fixed windows, so calls
    that straddled a boundary saw the count start again (a test once got four 200s from
    "3/min"): the throttle's clock stands still in the middle of every window."""

    def set_rates(rates: dict) -> None:
        monkeypatch.setattr(throttles.NodeThrottle, "THROTTLE_RATES", rates)
        clock = SimpleNamespace(time=lambda: _MID_WINDOW, monotonic=time.monotonic)
        monkeypatch.setattr(throttles, "time", clock)

    return set_rates


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


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run callbacks (the eager validation task) when the request's transaction commits."""

    def call(request, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return request(*args, **kwargs)

    return call
