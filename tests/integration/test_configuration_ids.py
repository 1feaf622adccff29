"""Who sees an import configuration's ID: only members with Import Data (the ID is what the
command line, the API and schedules use). The block page's list, the configuration's page and
a run's Import Summary hide it, and its Copy ID button, from everyone else."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planport.domain.enums import BlockKind
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, NAME
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations
from planport.services.imports.configurations import ConfigurationView
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.builders import PASSWORD
from tests.integration.import_builders import field, mapping, write_csv

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class _Text(HTMLParser):
    """The text a browser shows: no tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "title"}:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "title"}:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    with TestClient(create_app(settings, db), follow_redirects=False) as test:
        yield test


def log_in(client: TestClient, email: str) -> None:
    token = CSRF.findall(client.get("/login").text)[0]
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    client.headers["X-CSRF-Token"] = CSRF.findall(client.get("/account").text)[0]


@pytest.fixture
def saved(db: Database, admin: Actor, app: ApplicationView, tmp_path: Path) -> ConfigurationView:
    """A configuration of a Country list, and one run of it (from a file)."""
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    chosen = mapping(field(CODE, "Code"), field(NAME, "Name"))
    view = configurations.save_configuration(
        db, admin, country.id, "Countries", FileSettings(), chosen
    )
    path = write_csv(tmp_path / "countries.csv", ["Code", "Name"], [["FR", "France"]])
    configurations.run_configuration(db, admin, view.id, path, file_name="countries.csv")
    return view


def pages(client: TestClient, view: ConfigurationView) -> dict[str, str]:
    assert view.block_id is not None
    section = client.get(f"/blocks/{view.block_id}/imports", headers={"HX-Request": "true"})
    own_page = client.get(f"/blocks/{view.block_id}/imports")
    configuration = client.get(f"/configurations/{view.id}")
    run_link = re.search(r'href="(/runs/[0-9a-f-]{36})"', section.text)
    assert run_link, "the block lists the configuration's run"
    summary = client.get(run_link.group(1))
    found = {
        "block section": section,
        "block imports page": own_page,
        "configuration page": configuration,
        "import summary": summary,
    }
    for name, response in found.items():
        assert response.status_code == 200, (name, response.text)
    return {name: response.text for name, response in found.items()}


@pytest.mark.parametrize("role", ["Reader"])
def test_a_member_without_import_data_sees_no_configuration_id_and_no_copy_id(
    client: TestClient,
    saved: ConfigurationView,
    member_as: Callable[[str], Actor],
    role: str,
) -> None:
    reader = member_as(role)
    log_in(client, reader.email)
    for name, page in pages(client, saved).items():
        assert "Copy ID" not in page, name
        assert str(saved.id) not in visible_text(page), name
        assert "copy-id" not in page, name
        assert "Countries" in visible_text(page), name  # the configuration itself is listed
    # Links to the configuration by its address stay: that is not showing the ID.
    assert f'href="/configurations/{saved.id}"' in pages(client, saved)["block section"]


@pytest.mark.parametrize("role", ["Contributor", "Admin"])
def test_a_member_with_import_data_sees_and_copies_configuration_ids(
    client: TestClient,
    saved: ConfigurationView,
    member_as: Callable[[str], Actor],
    role: str,
) -> None:
    log_in(client, member_as(role).email)
    shown = pages(client, saved)
    for name in ("block section", "block imports page", "configuration page"):
        assert str(saved.id) in visible_text(shown[name]), name
        assert "Copy ID" in shown[name], name
        assert "/static/copy-id.js" in shown[name], name
    assert str(saved.id) in visible_text(shown["import summary"])


def test_the_workspace_admin_sees_configuration_ids(
    client: TestClient, saved: ConfigurationView, admin: Actor
) -> None:
    log_in(client, admin.email)
    shown = pages(client, saved)
    assert "Copy ID" in shown["configuration page"]
    assert str(saved.id) in visible_text(shown["block section"])


def test_copy_id_falls_back_to_selecting_the_id_without_a_clipboard(client: TestClient) -> None:
    """navigator.clipboard exists only in a secure context (HTTPS or localhost)."""
    script = client.get("/static/copy-id.js")
    assert script.status_code == 200
    assert "window.isSecureContext" in script.text
    assert "Press Ctrl+C to copy" in script.text
    assert "selectNodeContents" in script.text
