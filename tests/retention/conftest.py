import pytest

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.jobs.models import WorkerNode
from alexandria.jobs.services.nodes import register_node
from tests.pipeline.scripted import KIND_NAMES
from tests.support.fake_openai import fake_openai  # noqa: F401


@pytest.fixture(autouse=True)
def _retention_settings(settings):
    # Chunks of ~100 words, so a test document of a few thousand characters spans several;
    # trusted nodes are not replicated, so each valid result is applied at once.
    settings.CHUNK_TARGET_WORDS = 100
    settings.CHUNK_CONTEXT_CHARS = 200
    settings.REPLICATION_SAMPLE_RATE = 0.0


@pytest.fixture
def member(db):
    return contributor_for_discord_user("100000000000000001", display_name="member")


@pytest.fixture
def registered_node(db):
    volunteer = contributor_for_discord_user("100000000000000002", display_name="volunteer")
    registered = register_node(volunteer, name="gpu-box", capabilities={"kinds": KIND_NAMES})
    WorkerNode.objects.filter(pk=registered.node.pk).update(trust=1.0)
    registered.node.refresh_from_db()
    return registered


@pytest.fixture
def node(registered_node) -> WorkerNode:
    return registered_node.node
