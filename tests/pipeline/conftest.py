import pytest

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.jobs.models import WorkerNode
from alexandria.jobs.services.nodes import register_node
from tests.pipeline.scripted import KIND_NAMES
from tests.support.fake_openai import fake_openai  # noqa: F401

MEMBER_ID = "100000000000000001"


@pytest.fixture(autouse=True)
def _pipeline_settings(settings):
    # Small chunks so that short test documents span several; trusted nodes are not
    # replicated, so each result is applied as soon as it is valid.
    settings.CHUNK_TARGET_WORDS = 40
    settings.CHUNK_CONTEXT_CHARS = 120
    settings.REPLICATION_SAMPLE_RATE = 0.0


@pytest.fixture
def member(db):
    return contributor_for_discord_user(MEMBER_ID, display_name="member")


@pytest.fixture
def volunteer(db):
    return contributor_for_discord_user("100000000000000002", display_name="volunteer")


@pytest.fixture
def registered_node(volunteer):
    registered = register_node(volunteer, name="gpu-box", capabilities={"kinds": KIND_NAMES})
    WorkerNode.objects.filter(pk=registered.node.pk).update(trust=1.0)
    registered.node.refresh_from_db()
    return registered


@pytest.fixture
def node(registered_node) -> WorkerNode:
    return registered_node.node
