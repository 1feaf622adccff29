"""Managing API keys as a workspace admin (SQLite and PostgreSQL): the API keys page, IP
allow lists enforced at each call, integration members, and what deactivating a member who
owns keys or schedules offers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from planport.domain.api_keys import ApiKeyType
from planport.domain.errors import AuthenticationFailed, Conflict, Invalid
from planport.domain.members import Actor
from planport.services.blocks.applications import ApplicationView
from planport.services.scheduling import schedules
from planport.services.workspace import allow_lists, api_keys, members
from planport.services.workspace.allow_lists import AllowListSpec
from planport.services.workspace.api_keys import KeyChange, KeyRejected, KeySpec
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.builders import PASSWORD, grant, logged_in
from tests.integration.schedule_builders import Clock, at, daily, folder_configuration, product_list

OFFICE = "203.0.113.7"
ELSEWHERE = "198.51.100.20"
SECRET = re.compile(r"ppk_[A-Za-z0-9_-]{43}")


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db.url)


def client_at(db: Database, settings: Settings, address: str) -> TestClient:
    return TestClient(create_app(settings, db), follow_redirects=False, client=(address, 40000))


@pytest.fixture
def page(db: Database, settings: Settings, admin: Actor) -> Iterator[TestClient]:
    with client_at(db, settings, OFFICE) as client:
        yield logged_in(client, admin.email)


def metadata_key(db: Database, admin: Actor, *lists: allow_lists.AllowListView) -> str:
    spec = KeySpec("Looker", ApiKeyType.METADATA, allow_list_ids=tuple(a.id for a in lists))
    return api_keys.create_key(db, spec, by=admin, time_zone="UTC").secret


def call(db: Database, settings: Settings, key: str, address: str) -> tuple[int, str]:
    with client_at(db, settings, address) as client:
        answer = client.get("/api/v1/applications", headers={"Authorization": f"Bearer {key}"})
    return answer.status_code, answer.json().get("reason", "") if answer.status_code != 200 else ""


# ---------------------------------------------------------------- the API keys page


def test_a_created_key_is_shown_once_and_afterwards_only_by_its_prefix(
    page: TestClient, db: Database, admin: Actor
) -> None:
    created = page.post(
        "/api-keys",
        data={"name": "Workday EIB", "key_type": "import", "owner": admin.email},
    )
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    [secret] = set(SECRET.findall(created.text))
    assert "shown only this once" in created.text

    later = page.get("/api-keys").text
    assert secret not in later
    assert secret[:12] in later
    assert "Workday EIB" in later
    api_keys.authenticate(db, secret, ApiKeyType.IMPORT, OFFICE)  # the shown key works


def test_the_form_says_how_an_expiration_date_is_read_and_the_list_shows_the_last_day(
    page: TestClient, settings: Settings
) -> None:
    form = page.get("/api-keys").text
    assert "until the end of the day <em>before</em> this date" in form
    assert settings.time_zone in form
    page.post(
        "/api-keys", data={"name": "Yearly", "key_type": "export", "expires_on": "2099-01-01"}
    )
    listed = page.get("/api-keys").text
    assert "2099-01-01" in listed
    assert "last day 2098-12-31" in listed


def test_a_bad_key_form_says_what_was_wrong_and_creates_nothing(
    page: TestClient, db: Database
) -> None:
    past = page.post(
        "/api-keys", data={"name": "Old", "key_type": "import", "expires_on": "2001-01-01"}
    )
    assert past.status_code == 422
    assert "must be after today" in past.text
    garbled = page.post("/api-keys", data={"name": "Odd", "expires_on": "tomorrow"})
    assert garbled.status_code == 422
    assert "is not a date" in garbled.text
    assert api_keys.list_keys(db, None) == []


def test_editing_a_key_renames_it_and_an_earlier_date_ends_it(
    page: TestClient, db: Database, admin: Actor, settings: Settings
) -> None:
    secret = metadata_key(db, admin)
    [key] = api_keys.list_keys(db, admin)
    assert page.get(f"/api-keys/{key.id}").status_code == 200
    today = date.today().isoformat()
    saved = page.post(f"/api-keys/{key.id}", data={"name": "Looker prod", "expires_on": today})
    assert saved.status_code == 303
    [key] = api_keys.list_keys(db, admin)
    assert key.name == "Looker prod"
    assert key.expires_on == date.today()
    assert call(db, settings, secret, OFFICE) == (401, "expired_key")


def test_revoking_on_the_page_stops_the_key_at_once(
    page: TestClient, db: Database, admin: Actor, settings: Settings
) -> None:
    secret = metadata_key(db, admin)
    assert call(db, settings, secret, OFFICE) == (200, "")
    [key] = api_keys.list_keys(db, admin)
    assert page.post(f"/api-keys/{key.id}/revoke").status_code == 303
    assert call(db, settings, secret, OFFICE) == (401, "revoked_key")
    assert "revoked" in page.get("/api-keys").text


def test_only_workspace_admins_reach_the_api_keys_page(
    db: Database, settings: Settings, member: Actor
) -> None:
    with client_at(db, settings, OFFICE) as client:
        logged_in(client, member.email)
        assert client.get("/api-keys").status_code == 403
        assert (
            client.post("/api-keys", data={"name": "Mine", "key_type": "import"}).status_code == 403
        )
    assert api_keys.list_keys(db, None) == []


# ---------------------------------------------------------------- IP allow lists


def test_a_key_linked_to_a_list_works_only_from_its_addresses(
    db: Database, admin: Actor, settings: Settings
) -> None:
    office = allow_lists.create_list(db, AllowListSpec("Office", "203.0.113.0/24"), by=admin)
    secret = metadata_key(db, admin, office)
    assert call(db, settings, secret, OFFICE) == (200, "")
    assert call(db, settings, secret, ELSEWHERE) == (403, "address_not_allowed")


def test_several_lists_allow_their_union(db: Database, admin: Actor, settings: Settings) -> None:
    office = allow_lists.create_list(db, AllowListSpec("Office", "203.0.113.0/24"), by=admin)
    cloud = allow_lists.create_list(db, AllowListSpec("Cloud", ELSEWHERE), by=admin)
    secret = metadata_key(db, admin, office, cloud)
    assert call(db, settings, secret, OFFICE)[0] == 200
    assert call(db, settings, secret, ELSEWHERE)[0] == 200
    assert call(db, settings, secret, "192.0.2.1") == (403, "address_not_allowed")


def test_the_default_list_applies_only_to_keys_linked_to_none(
    db: Database, admin: Actor, settings: Settings
) -> None:
    unlinked = metadata_key(db, admin)
    cloud = allow_lists.create_list(db, AllowListSpec("Cloud", ELSEWHERE), by=admin)
    linked = metadata_key(db, admin, cloud)
    allow_lists.create_list(db, AllowListSpec("Office", OFFICE, is_default=True), by=admin)
    assert call(db, settings, unlinked, OFFICE)[0] == 200
    assert call(db, settings, unlinked, ELSEWHERE) == (403, "address_not_allowed")
    assert call(db, settings, linked, ELSEWHERE)[0] == 200  # its own list, not the default
    assert call(db, settings, linked, OFFICE) == (403, "address_not_allowed")


def test_choosing_a_new_default_list_unsets_the_old_one(db: Database, admin: Actor) -> None:
    first = allow_lists.create_list(db, AllowListSpec("A", OFFICE, is_default=True), by=admin)
    allow_lists.create_list(db, AllowListSpec("B", ELSEWHERE, is_default=True), by=admin)
    defaults = [a.name for a in allow_lists.list_lists(db, admin) if a.is_default]
    assert defaults == ["B"]
    allow_lists.update_list(db, first.id, AllowListSpec("A", OFFICE, is_default=True), by=admin)
    assert [a.name for a in allow_lists.list_lists(db, admin) if a.is_default] == ["A"]


def test_editing_a_list_applies_to_the_next_call_and_deleting_it_frees_its_keys(
    db: Database, admin: Actor, settings: Settings
) -> None:
    office = allow_lists.create_list(db, AllowListSpec("Office", OFFICE), by=admin)
    secret = metadata_key(db, admin, office)
    allow_lists.update_list(db, office.id, AllowListSpec("Office", ELSEWHERE), by=admin)
    assert call(db, settings, secret, OFFICE) == (403, "address_not_allowed")
    allow_lists.delete_list(db, office.id, by=admin)
    assert call(db, settings, secret, OFFICE)[0] == 200  # no list and no default: anywhere


def test_a_key_change_relinks_its_lists(db: Database, admin: Actor, settings: Settings) -> None:
    office = allow_lists.create_list(db, AllowListSpec("Office", OFFICE), by=admin)
    secret = metadata_key(db, admin)
    [key] = api_keys.list_keys(db, admin)
    change = KeyChange(key.name, None, allow_list_ids=(office.id,))
    api_keys.update_key(db, key.id, change, by=admin, time_zone="UTC")
    assert api_keys.list_keys(db, admin)[0].allow_lists == ("Office",)
    assert call(db, settings, secret, ELSEWHERE) == (403, "address_not_allowed")


def test_a_list_with_a_bad_entry_or_a_taken_name_is_refused_with_its_line(
    page: TestClient, db: Database, admin: Actor
) -> None:
    answer = page.post(
        "/api-keys/allow-lists", data={"name": "Office", "entries": "203.0.113.7\nexample.com"}
    )
    assert answer.status_code == 422
    assert "Line 2: &#39;example.com&#39; is not an IP address" in answer.text
    assert "example.com" in answer.text  # what was typed stays in the form
    assert allow_lists.list_lists(db, admin) == []
    allow_lists.create_list(db, AllowListSpec("Office", OFFICE), by=admin)
    with pytest.raises(Conflict):
        allow_lists.create_list(db, AllowListSpec("office", ELSEWHERE), by=admin)


def test_allow_lists_are_created_and_edited_on_the_page(
    page: TestClient, db: Database, admin: Actor
) -> None:
    created = page.post(
        "/api-keys/allow-lists",
        data={"name": "Workday", "entries": "203.0.113.0/24, 198.51.100.7", "is_default": "yes"},
    )
    assert created.status_code == 303
    [found] = allow_lists.list_lists(db, admin)
    assert found.entries.text == "203.0.113.0/24\n198.51.100.7"
    assert found.is_default
    edit = page.get(f"/api-keys/allow-lists/{found.id}").text
    assert "198.51.100.7" in edit
    page.post(
        f"/api-keys/allow-lists/{found.id}",
        data={"name": "Workday DC", "entries": "203.0.113.0/24"},
    )
    [found] = allow_lists.list_lists(db, admin)
    assert (found.name, found.is_default) == ("Workday DC", False)
    assert page.post(f"/api-keys/allow-lists/{found.id}/delete").status_code == 303
    assert allow_lists.list_lists(db, admin) == []


# ---------------------------------------------------------------- integration members


def test_an_integration_member_cannot_sign_in_and_is_shown_as_one(
    page: TestClient, db: Database
) -> None:
    answer = page.post("/members/integrations", data={"display_name": "Workday EIB"})
    assert answer.status_code == 303
    integration = members.find_member(db, "workday-eib@integrations.invalid")
    assert integration is not None
    assert integration.is_integration
    listed = page.get("/members").text
    assert "Integration" in listed
    assert "cannot sign in" in listed
    with pytest.raises(AuthenticationFailed):
        members.log_in(db, integration.email, "", hours=1)
    with pytest.raises(Invalid, match="cannot sign in"):
        members.set_password(db, integration.email, PASSWORD)


def test_an_integration_owns_keys_with_the_roles_it_is_given(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings
) -> None:
    integration = members.create_integration(db, "Looker", actor=admin)
    spec = KeySpec("Looker", ApiKeyType.METADATA, owner_email=integration.email)
    secret = api_keys.create_key(db, spec, by=admin, time_zone="UTC").secret
    with client_at(db, settings, OFFICE) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/applications", headers=headers).json() == []
        grant(db, admin, app.id, integration.email, "Reader")
        assert [a["name"] for a in client.get("/api/v1/applications", headers=headers).json()] == [
            app.name
        ]


def test_an_integration_cannot_become_a_workspace_admin(db: Database, admin: Actor) -> None:
    from planport.domain.enums import AccountType

    integration = members.create_integration(db, "EIB", actor=admin)
    with pytest.raises(Invalid, match="cannot be a workspace admin"):
        members.update_member(db, admin, integration.id, account_type=AccountType.ADMIN)


# ---------------------------------------------------------------- deactivating an owner


@pytest.fixture
def owner_with_things(db: Database, admin: Actor, app: ApplicationView) -> Actor:
    """A modeler of `app` who owns an Import key and a schedule."""
    members.create_member(db, "ana@example.com", PASSWORD)
    grant(db, admin, app.id, "ana@example.com", "Modeler")
    ana = members.actor_for(db, "ana@example.com")
    spec = KeySpec("Nightly push", ApiKeyType.IMPORT, owner_email=ana.email)
    api_keys.create_key(db, spec, by=admin, time_zone="UTC")
    configuration = folder_configuration(db, ana, product_list(db, admin, app, "Product"))
    schedules.create_schedule(
        db, ana, configuration.id, daily("2099-01-01T06:00"), clock=Clock(at("2026-03-27T23:00"))
    )
    return ana


def test_deactivating_an_owner_says_what_they_own_and_transfers_it_in_one_click(
    page: TestClient, db: Database, admin: Actor, owner_with_things: Actor
) -> None:
    integration = members.create_integration(db, "Nightly jobs", actor=admin)
    asked = page.post(f"/members/{owner_with_things.id}", data={"active": "no"})
    assert asked.status_code == 200
    assert "Nightly push" in asked.text
    assert "Product" in asked.text
    assert members.find_member(db, owner_with_things.email).is_active  # nothing happened yet

    done = page.post(
        f"/members/{owner_with_things.id}/deactivate", data={"transfer_to": str(integration.id)}
    )
    assert done.status_code == 303
    assert not members.find_member(db, owner_with_things.email).is_active
    assert not members.owned_by(db, owner_with_things.id)
    moved = members.owned_by(db, integration.id)
    assert moved.keys == ("Nightly push",)
    assert len(moved.schedules) == 1
    [key] = api_keys.list_keys(db, admin)
    assert key.owner_email == integration.email


def test_deactivating_without_transferring_stops_the_owners_keys(
    page: TestClient, db: Database, admin: Actor, owner_with_things: Actor
) -> None:
    spec = KeySpec("Reader", ApiKeyType.METADATA, owner_email=owner_with_things.email)
    secret = api_keys.create_key(db, spec, by=admin, time_zone="UTC").secret
    page.post(f"/members/{owner_with_things.id}/deactivate")
    with pytest.raises(KeyRejected) as refused:
        api_keys.authenticate(db, secret, ApiKeyType.METADATA, OFFICE)
    assert refused.value.rejection.value == "owner_inactive"


def test_a_member_who_owns_nothing_is_deactivated_at_once(
    page: TestClient, db: Database, member: Actor
) -> None:
    assert page.post(f"/members/{member.id}", data={"active": "no"}).status_code == 303
    assert not members.find_member(db, member.email).is_active


def test_ownership_goes_only_to_an_active_member(
    db: Database, admin: Actor, owner_with_things: Actor, member: Actor
) -> None:
    members.update_member(db, admin, member.id, is_active=False)
    with pytest.raises(Invalid, match="active member"):
        members.transfer_ownership(db, admin, owner_with_things.id, member.id)
    assert members.owned_by(db, owner_with_things.id).keys == ("Nightly push",)


def test_a_revoked_key_is_not_counted_as_owned(
    db: Database, admin: Actor, owner_with_things: Actor
) -> None:
    api_keys.revoke_key(db, api_keys.list_keys(db, admin)[0].prefix, by=admin)
    assert members.owned_by(db, owner_with_things.id).keys == ()


def test_behind_a_trusted_proxy_the_forwarded_address_is_checked_and_a_forged_one_is_not(
    db: Database, admin: Actor, tmp_path: Path
) -> None:
    office = allow_lists.create_list(db, AllowListSpec("Office", OFFICE), by=admin)
    secret = metadata_key(db, admin, office)
    headers = {"Authorization": f"Bearer {secret}", "X-Forwarded-For": f"192.0.2.9, {OFFICE}"}
    proxied = Settings(data_dir=tmp_path, database_url=db.url, trusted_proxies="10.0.0.0/8")
    with client_at(db, proxied, "10.0.0.2") as client:
        assert client.get("/api/v1/applications", headers=headers).status_code == 200
    with client_at(db, Settings(data_dir=tmp_path, database_url=db.url), "10.0.0.2") as client:
        refused = client.get("/api/v1/applications", headers=headers)
        assert refused.json()["reason"] == "address_not_allowed"
