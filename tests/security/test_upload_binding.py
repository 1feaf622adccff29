"""A wizard upload belongs to whoever made it, for the block it was made for: an upload id
learned from a request path opens nothing for anyone else, or for another block."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planport.domain.enums import AccountType, BlockKind
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.workspace import members
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.builders import grant

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(db: Database, tmp_path: Path, email: str) -> TestClient:
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    client = TestClient(create_app(settings, db), follow_redirects=False)
    token = CSRF.findall(client.get("/login").text)[0]
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    return client


@pytest.fixture
def two_applications(db: Database, admin: Actor) -> tuple[str, str]:
    """Block ids of 'Country' in application A and in application B."""
    a = applications.create_application(db, admin, "A")
    b = applications.create_application(db, admin, "B")
    in_a = blocks.create_list(db, admin, a.id, BlockKind.DIMENSION_LIST, "Country")
    in_b = blocks.create_list(db, admin, b.id, BlockKind.DIMENSION_LIST, "Country")
    for email, application in (("ann@example.com", a), ("bob@example.com", b)):
        members.create_member(db, email, PASSWORD, account_type=AccountType.MEMBER)
        grant(db, admin, application.id, email, "Admin")
    return str(in_a.id), str(in_b.id)


@pytest.fixture
def clients(db: Database, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    ann, bob = (signed_in(db, tmp_path, e) for e in ("ann@example.com", "bob@example.com"))
    with ann, bob:
        yield ann, bob


def upload(client: TestClient, block_id: str) -> str:
    csrf = CSRF.findall(client.get(f"/blocks/{block_id}/import").text)[0]
    response = client.post(
        f"/blocks/{block_id}/import",
        data={"csrf_token": csrf},
        files={"file": ("countries.csv", b"Code,Name\nFR,France\n", "text/csv")},
    )
    assert response.status_code == 303
    return response.headers["location"].rsplit("/", 1)[1]


def test_an_upload_made_in_another_application_opens_nothing_for_its_id(
    two_applications: tuple[str, str], clients: tuple[TestClient, TestClient]
) -> None:
    in_a, in_b = two_applications
    ann, bob = clients
    bobs = upload(bob, in_b)
    assert bob.get(f"/blocks/{in_b}/import/{bobs}").status_code == 200  # its owner goes on
    # Ann may import into A, not see B: Bob's file must not be previewed or imported into A.
    for step in ("", "/preview", "/mapping"):
        answer = ann.get(f"/blocks/{in_a}/import/{bobs}{step}")
        assert answer.status_code == 404, step
        assert "France" not in answer.text
    csrf = CSRF.findall(ann.get(f"/blocks/{in_a}/import").text)[0]
    ran = ann.post(f"/blocks/{in_a}/import/{bobs}/run", data={"csrf_token": csrf})
    assert ran.status_code == 404


def test_an_upload_is_bound_to_the_block_it_was_made_for(
    db: Database, admin: Actor, two_applications: tuple[str, str], tmp_path: Path
) -> None:
    in_a, _ = two_applications
    application = blocks.get_block(db, admin, uuid.UUID(in_a)).application_id
    other = blocks.create_list(db, admin, application, BlockKind.DIMENSION_LIST, "Region")
    with signed_in(db, tmp_path, "ann@example.com") as ann:
        anns = upload(ann, in_a)
        assert ann.get(f"/blocks/{in_a}/import/{anns}").status_code == 200
        assert ann.get(f"/blocks/{other.id}/import/{anns}").status_code == 404
