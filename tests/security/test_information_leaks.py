"""What a member may not learn or do from outside: names of applications they have no role in,
the route list, forms they cannot post, cookies over plain HTTP, forms posted from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planport.domain.enums import AccountType
from planport.domain.members import Actor
from planport.services.blocks import applications
from planport.services.workspace import members
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.builders import grant

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def client_for(db: Database, tmp_path: Path, **options: object) -> TestClient:
    settings = Settings(data_dir=tmp_path, database_url=db.url, **options)  # type: ignore[arg-type]
    return TestClient(create_app(settings, db), follow_redirects=False)


def sign_in(client: TestClient, email: str) -> str:
    """Sign in; the CSRF token of the session's forms."""
    token = CSRF.findall(client.get("/login").text)[0]
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    return CSRF.findall(client.get("/account").text)[0]


@pytest.fixture
def reader(db: Database, admin: Actor, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """A member who reads 'Budget' and has no role in 'Mergers 2027'; with their CSRF token."""
    budget = applications.create_application(db, admin, "Budget")
    applications.create_application(db, admin, "Mergers 2027")
    members.create_member(db, "ann@example.com", PASSWORD, account_type=AccountType.MEMBER)
    grant(db, admin, budget.id, "ann@example.com", "Reader")
    with client_for(db, tmp_path) as client:
        yield client, sign_in(client, "ann@example.com")


def test_an_application_without_a_role_is_not_found_and_not_named(
    db: Database, admin: Actor, reader: tuple[TestClient, str]
) -> None:
    client, _ = reader
    (secret,) = [a for a in applications.list_applications(db, admin) if a.name == "Mergers 2027"]
    for path in (f"/applications/{secret.id}", f"/applications/{secret.id}/blocks/new"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Mergers" not in answer.text


def test_forms_are_not_shown_to_those_who_cannot_post_them(
    db: Database, admin: Actor, reader: tuple[TestClient, str]
) -> None:
    client, _ = reader
    (budget,) = [a for a in applications.list_applications(db, admin) if a.name == "Budget"]
    assert client.get("/applications/new").status_code == 403
    refused = client.get(f"/applications/{budget.id}/blocks/new")
    assert refused.status_code == 403
    assert "Configure Blocks" in refused.text
    assert "<form" not in refused.text.split("</header>", 1)[-1].replace('action="/logout"', "")


def test_the_route_list_is_not_published(reader: tuple[TestClient, str]) -> None:
    client, _ = reader
    assert client.get("/openapi.json").status_code == 404


def test_a_form_posted_from_another_site_is_refused_even_with_a_valid_token(
    reader: tuple[TestClient, str],
) -> None:
    client, csrf = reader
    form = {"csrf_token": csrf, "time_zone": "Europe/Paris"}
    for header in ({"origin": "https://evil.example"}, {"referer": "https://evil.example/x"}):
        refused = client.post("/account/time-zone", data=form, headers=header)
        assert refused.status_code == 403, header
        assert "did not come from Planport" in refused.text
    same_site = client.post(
        "/account/time-zone", data=form, headers={"origin": "http://testserver"}
    )
    assert same_site.status_code == 303


def test_the_flash_cookie_is_secure_when_cookies_are(
    db: Database, admin: Actor, tmp_path: Path
) -> None:
    with client_for(db, tmp_path, cookie_secure=True, base_url="https://testserver") as client:
        client.base_url = "https://testserver"  # type: ignore[assignment]
        csrf = sign_in(client, admin.email)
        created = client.post(
            "/applications", data={"name": "Budget", "description": "", "csrf_token": csrf}
        )
    assert created.status_code == 303
    flash = [c for c in created.headers.get_list("set-cookie") if c.startswith("planport_flash=")]
    assert flash
    assert "secure" in flash[0].lower()
