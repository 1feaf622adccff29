"""The forms that hand out rights start on the least privilege.

"Add a member" starts on a plain member and "Give access" on the role with the fewest
permissions (Reader), so that submitting either without a second look never grants more than
was meant. The forms are read the way a browser reads them: a select submits its `selected`
option, or its first option when none is marked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planport.domain.enums import AccountType
from planport.domain.members import Actor
from planport.services.blocks.applications import ApplicationView
from planport.services.workspace import access, members
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.builders import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class _FormReader(HTMLParser):
    """The values a browser would submit from the form posting to `action`, untouched."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.values: dict[str, str] = {}
        self.options: dict[str, list[tuple[str, str, bool]]] = {}
        self._select: str | None = None
        self._option: tuple[str, bool] | None = None
        self._label = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = attr.get("action") == self.action
        elif not self.inside:
            return
        elif tag == "input" and attr.get("name"):
            self.values[attr["name"]] = attr.get("value", "")
        elif tag == "select":
            self._select = attr["name"]
            self.options[self._select] = []
        elif tag == "option" and self._select is not None:
            self._option = (attr.get("value", ""), "selected" in attr)
            self._label = ""

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._label += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "option" and self._option is not None and self._select is not None:
            value, selected = self._option
            self.options[self._select].append((value, self._label.strip(), selected))
            self._option = None
        elif tag == "select" and self._select is not None:
            self._select = None

    def chosen(self, name: str) -> tuple[str, str]:
        """(value, label) the select `name` submits: its selected option, else its first."""
        options = self.options[name]
        marked = [(value, label) for value, label, selected in options if selected]
        assert len(marked) <= 1, f"{name} marks {marked} selected"
        return marked[0] if marked else (options[0][0], options[0][1])

    def submitted(self) -> dict[str, str]:
        return {**self.values, **{name: self.chosen(name)[0] for name in self.options}}


def read_form(client: TestClient, page: str, action: str) -> _FormReader:
    response = client.get(page)
    assert response.status_code == 200, response.text
    reader = _FormReader(action)
    reader.feed(response.text)
    assert reader.options, f"no form posting to {action} on {page}"
    return reader


@pytest.fixture
def admin_client(db: Database, admin: Actor, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        token = CSRF.findall(client.get("/login").text)[0]
        response = client.post(
            "/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303, response.text
        yield client


def test_add_a_member_starts_on_a_plain_member(admin_client: TestClient) -> None:
    form = read_form(admin_client, "/members", "/members")
    assert form.chosen("account_type") == (AccountType.MEMBER.value, "Member")


def test_adding_a_member_without_touching_the_account_type_adds_a_plain_member(
    admin_client: TestClient, db: Database
) -> None:
    data = read_form(admin_client, "/members", "/members").submitted()
    data.update(email="new@example.com", display_name="New", password=PASSWORD)
    response = admin_client.post("/members", data=data)
    assert response.status_code == 303, response.text
    created = members.find_member(db, "new@example.com")
    assert created is not None
    assert created.account_type is AccountType.MEMBER


def test_a_refused_member_form_keeps_the_account_type_that_was_chosen(
    admin_client: TestClient, admin: Actor
) -> None:
    data = read_form(admin_client, "/members", "/members").submitted()
    data.update(email=admin.email, password=PASSWORD, account_type=AccountType.ADMIN.value)
    response = admin_client.post("/members", data=data)
    assert response.status_code == 409
    reader = _FormReader("/members")
    reader.feed(response.text)
    assert reader.chosen("account_type") == (AccountType.ADMIN.value, "Workspace admin")


def test_give_access_starts_on_the_least_privileged_role(
    admin_client: TestClient, app: ApplicationView
) -> None:
    form = read_form(
        admin_client, f"/applications/{app.id}/settings", f"/applications/{app.id}/access"
    )
    assert [label for _, label, _ in form.options["role_id"]] == [
        "Admin",
        "Modeler",
        "Contributor",
        "Reader",
    ]
    assert form.chosen("role_id")[1] == "Reader"


def test_giving_access_without_touching_the_role_gives_reader(
    admin_client: TestClient, db: Database, admin: Actor, member: Actor, app: ApplicationView
) -> None:
    page, action = f"/applications/{app.id}/settings", f"/applications/{app.id}/access"
    data = read_form(admin_client, page, action).submitted()
    data["email"] = member.email
    response = admin_client.post(action, data=data)
    assert response.status_code == 303, response.text
    granted = {a.email: a.role_name for a in access.list_access(db, admin, app.id)}
    assert granted[member.email] == "Reader"


def test_give_access_follows_the_roles_as_edited(
    admin_client: TestClient, db: Database, admin: Actor, app: ApplicationView
) -> None:
    """Roles are editable: the default is whichever role holds fewest permissions now."""
    reader = next(r for r in access.list_roles(db, admin, app.id) if r.name == "Reader")
    contributor = next(r for r in access.list_roles(db, admin, app.id) if r.name == "Contributor")
    access.set_role_permissions(db, admin, app.id, reader.id, set(contributor.permissions))
    access.create_role(db, admin, app.id, "Viewer", set())
    form = read_form(
        admin_client, f"/applications/{app.id}/settings", f"/applications/{app.id}/access"
    )
    assert form.chosen("role_id")[1] == "Viewer"


def test_a_refused_grant_keeps_the_role_that_was_chosen(
    admin_client: TestClient, db: Database, admin: Actor, app: ApplicationView
) -> None:
    page, action = f"/applications/{app.id}/settings", f"/applications/{app.id}/access"
    modeler = next(r for r in access.list_roles(db, admin, app.id) if r.name == "Modeler")
    data = read_form(admin_client, page, action).submitted()
    data.update(email="nobody@example.com", role_id=str(modeler.id))
    response = admin_client.post(action, data=data)
    assert response.status_code >= 400
    reader = _FormReader(action)
    reader.feed(response.text)
    assert reader.chosen("role_id")[1] == "Modeler"
