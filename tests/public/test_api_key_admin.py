"""Staff create API keys in the admin: the key is shown once; a sixth active key for the same
member is refused with a form error (not a server error) and nothing is created."""

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.public.models import ApiKey
from alexandria.public.services import MAX_ACTIVE_KEYS, create_api_key

ADD = "/admin/public/apikey/add/"


def test_admin_creates_a_key_and_shows_it_once(db, staff_client):
    member = contributor_for_discord_user("100000000000000001")
    response = staff_client.post(ADD, {"owner": member.pk, "name": "my app"}, follow=True)
    assert response.status_code == 200
    key = ApiKey.objects.get(owner=member)
    assert f"keep it secret): {key.prefix}" in response.content.decode()


def test_admin_refuses_a_key_beyond_the_limit_with_a_message(db, staff_client):
    member = contributor_for_discord_user("100000000000000002")
    for n in range(MAX_ACTIVE_KEYS):
        create_api_key(member, name=f"key {n}")
    response = staff_client.post(ADD, {"owner": member.pk, "name": "one more"})
    assert response.status_code == 200  # the form again, with the reason
    assert f"already have {MAX_ACTIVE_KEYS} active API keys" in response.content.decode()
    assert ApiKey.objects.filter(owner=member).count() == MAX_ACTIVE_KEYS
