"""The web shell over a real database: logins, CSRF, access, error pages, grid and export."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient

from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, FieldMapping, Mapping, SourceColumn
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications, items
from planport.services.imports import configurations
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(db: Database, tmp_path: object) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db.url)  # type: ignore[arg-type]
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


def csrf_of(client: TestClient, path: str) -> str:
    """The CSRF token of the page's forms (all of them must carry the same one)."""
    tokens = set(CSRF.findall(client.get(path).text))
    assert len(tokens) == 1, f"forms on {path} carry tokens {tokens}"
    (token,) = tokens
    assert token, f"empty CSRF token on {path}"
    return token


def log_in(client: TestClient, email: str) -> None:
    token = csrf_of(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def admin_client(client: TestClient, admin: Actor) -> TestClient:
    log_in(client, admin.email)
    return client


def test_pages_need_a_login_and_send_people_back_where_they_were(client: TestClient) -> None:
    response = client.get("/applications/" + str(uuid.uuid4()))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/applications/")


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient, admin: Actor
) -> None:
    token = csrf_of(client, "/login")
    response = client.post(
        "/login", data={"email": admin.email, "password": "nope-nope-nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "The e-mail or password is not correct." in response.text
    assert "planport_session" not in response.cookies


def test_the_session_cookie_is_http_only_and_same_site(client: TestClient, admin: Actor) -> None:
    token = csrf_of(client, "/login")
    response = client.post(
        "/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["set-cookie"]
    assert "planport_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


def test_a_login_form_without_its_csrf_token_is_refused(client: TestClient, admin: Actor) -> None:
    client.get("/login")
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "planport_session" not in response.cookies


def test_a_form_without_the_csrf_token_changes_nothing(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    response = admin_client.post("/applications", data={"name": "Forged"})
    assert response.status_code == 403
    assert applications.list_applications(db, admin) == []


def test_a_form_with_a_token_of_another_session_is_refused(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    response = admin_client.post("/applications", data={"name": "Forged", "csrf_token": "x" * 43})
    assert response.status_code == 403
    assert applications.list_applications(db, admin) == []


def test_creating_an_application_redirects_to_it(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    token = csrf_of(admin_client, "/applications/new")
    response = admin_client.post("/applications", data={"name": "Budget 2027", "csrf_token": token})
    assert response.status_code == 303
    created = applications.list_applications(db, admin)
    assert [a.name for a in created] == ["Budget 2027"]
    assert response.headers["location"] == f"/applications/{created[0].id}"
    page = admin_client.get(response.headers["location"])
    assert "This application has no blocks yet." in page.text


def test_a_duplicate_application_name_shows_the_form_again_with_the_reason(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    applications.create_application(db, admin, "Budget")
    token = csrf_of(admin_client, "/applications/new")
    response = admin_client.post("/applications", data={"name": "BUDGET", "csrf_token": token})
    assert response.status_code == 409
    assert "already exists" in response.text
    assert 'value="BUDGET"' in response.text


def test_unknown_and_malformed_ids_are_404_pages(admin_client: TestClient) -> None:
    assert admin_client.get(f"/blocks/{uuid.uuid4()}").status_code == 404
    assert admin_client.get("/blocks/not-a-uuid").status_code == 404
    assert admin_client.get(f"/applications/{uuid.uuid4()}").status_code == 404
    assert admin_client.get("/no/such/page").status_code == 404


def test_a_member_without_a_role_is_not_allowed_into_an_application(
    client: TestClient, db: Database, admin: Actor, member: Actor
) -> None:
    app = applications.create_application(db, admin, "Secret plan")
    log_in(client, member.email)
    assert "Secret plan" not in client.get("/").text
    response = client.get(f"/applications/{app.id}")
    assert response.status_code == 404  # not even its name or existence is told
    assert "Secret plan" not in response.text


def test_the_members_page_is_for_admins_only(
    client: TestClient, member: Actor, admin: Actor
) -> None:
    log_in(client, member.email)
    assert client.get("/members").status_code == 403


def _revenue(db: Database, admin: Actor) -> tuple[uuid.UUID, uuid.UUID]:
    app = applications.create_application(db, admin, "Plan")
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    items.write_items(db, admin, country.id, [{"Code": f"C{i:03d}"} for i in range(150)])
    metric = blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id])
    items.set_cells(
        db, admin, metric.id, [{"Country": f"C{i:03d}", "Value": str(i)} for i in range(150)]
    )
    return country.id, metric.id


def test_the_grid_pages_through_a_metric_and_filters_by_item(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    country_id, metric_id = _revenue(db, admin)
    first = admin_client.get(f"/blocks/{metric_id}")
    assert "Rows 1–100 of 150" in first.text
    second = admin_client.get(f"/blocks/{metric_id}/grid?page=2", headers={"HX-Request": "true"})
    assert "Rows 101–150 of 150" in second.text
    assert "<html" not in second.text  # a fragment for htmx, not a whole page
    filtered = admin_client.get(f"/blocks/{metric_id}/grid?f_{country_id}=C007,C008")
    assert "Rows 1–2 of 2" in filtered.text


def test_export_streams_the_whole_block_as_csv(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    _, metric_id = _revenue(db, admin)
    response = admin_client.get(f"/blocks/{metric_id}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "Revenue.csv" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    assert lines[0] == "Country,Revenue"
    assert len(lines) == 151


def test_a_bad_value_typed_into_the_grid_form_is_explained_and_not_saved(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    app = applications.create_application(db, admin, "Plan")
    product = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Product")
    blocks.add_property(db, admin, product.id, "Price", PropertyType.NUMBER)
    token = csrf_of(admin_client, f"/blocks/{product.id}")
    response = admin_client.post(
        f"/blocks/{product.id}/data",
        data={"csrf_token": token, "v:Code": "P1", "v:Price": "cheap"},
    )
    assert response.status_code == 422
    assert "Row 1, column &#39;Price&#39;" in response.text
    assert blocks.row_count_of(db, admin, product.id) == 0


def test_a_property_type_change_the_data_cannot_take_names_the_values(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    app = applications.create_application(db, admin, "Plan")
    product = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Product")
    definition = blocks.add_property(db, admin, product.id, "Size", PropertyType.TEXT)
    items.write_items(db, admin, product.id, [{"Code": "P1", "Size": "XL"}])
    prop = definition.properties[0]
    token = csrf_of(admin_client, f"/blocks/{product.id}")
    response = admin_client.post(
        f"/blocks/{product.id}/properties/{prop.id}",
        data={"csrf_token": token, "name": "Size", "type": "number"},
    )
    assert response.status_code == 409
    assert "XL" in response.text
    assert blocks.get_block(db, admin, product.id).properties[0].type is PropertyType.TEXT


def test_removing_a_mapped_property_warns_naming_its_configurations_and_waits_for_a_yes(
    admin_client: TestClient, db: Database, admin: Actor
) -> None:
    app = applications.create_application(db, admin, "Plan")
    product = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Product")
    prop = blocks.add_property(db, admin, product.id, "Segment", PropertyType.TEXT).properties[0]
    chosen = Mapping(
        fields=[
            FieldMapping(target=CODE, source=SourceColumn(column="Code")),
            FieldMapping(target=str(prop.id), source=SourceColumn(column="Seg")),
        ]
    )
    configurations.save_configuration(db, admin, product.id, "ERP products", FileSettings(), chosen)
    page = admin_client.get(f"/blocks/{product.id}")
    assert "Mapped by the import configuration <strong>ERP products</strong>" in page.text
    token = csrf_of(admin_client, f"/blocks/{product.id}")
    delete = f"/blocks/{product.id}/properties/{prop.id}/delete"
    refused = admin_client.post(delete, data={"csrf_token": token})
    assert refused.status_code == 409
    assert "mapped by the import configuration &#39;ERP products&#39;" in refused.text
    assert [p.name for p in blocks.get_block(db, admin, product.id).properties] == ["Segment"]
    retype = admin_client.post(
        f"/blocks/{product.id}/properties/{prop.id}",
        data={"csrf_token": token, "name": "Segment", "type": "number"},
    )
    assert retype.status_code == 409
    assert blocks.get_block(db, admin, product.id).properties[0].type is PropertyType.TEXT
    renamed = admin_client.post(
        f"/blocks/{product.id}/properties/{prop.id}",
        data={"csrf_token": token, "name": "Segments", "type": "text"},
    )
    assert renamed.status_code == 303  # a rename keeps the configuration fitting: no question
    confirmed = admin_client.post(delete, data={"csrf_token": token, "confirm_mapped": "1"})
    assert confirmed.status_code == 303
    assert not blocks.get_block(db, admin, product.id).properties


def test_health_answers_and_readiness_checks_the_schema(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_the_browser_gets_an_icon_for_favicon_ico(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")


def test_readiness_fails_on_a_database_that_was_never_migrated(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "empty"
    settings = Settings(data_dir=folder)
    with TestClient(create_app(settings)) as test_client:
        response = test_client.get("/readyz")
    assert response.status_code == 503
    assert "planport db upgrade" in response.json()["reason"]


def test_changing_your_password_needs_the_current_one_and_ends_other_sessions(
    db: Database, admin: Actor, tmp_path: object
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db.url)  # type: ignore[arg-type]
    app = create_app(settings, db)
    with (
        TestClient(app, follow_redirects=False) as here,
        TestClient(app, follow_redirects=False) as elsewhere,
    ):
        log_in(here, admin.email)
        log_in(elsewhere, admin.email)
        token = csrf_of(here, "/account")
        wrong = here.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current": "not it at all",
                "new": "n" * 12,
                "confirm": "n" * 12,
            },
        )
        assert wrong.status_code == 401
        assert "current password is not correct" in wrong.text
        done = here.post(
            "/account/password",
            data={"csrf_token": token, "current": PASSWORD, "new": "n" * 12, "confirm": "n" * 12},
        )
        assert done.status_code == 303
        assert here.get("/account").status_code == 200  # this session stays
        assert elsewhere.get("/").status_code == 303  # that one ended


def test_an_unknown_time_zone_is_refused(admin_client: TestClient) -> None:
    token = csrf_of(admin_client, "/account")
    response = admin_client.post(
        "/account/time-zone", data={"csrf_token": token, "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 422
    assert "is not an IANA time zone" in response.text


def test_the_applications_address_leads_to_the_application_list(
    admin_client: TestClient,
) -> None:
    response = admin_client.get("/applications", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_every_answer_carries_the_security_headers_and_is_logged_once(
    client: TestClient,
) -> None:
    with structlog.testing.capture_logs() as logs:
        page = client.get("/login")
        api_refusal = client.get(f"/api/v1/import/{uuid.uuid4()}/status")
        static = client.get("/favicon.ico")

    for answer in (page, api_refusal, static):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "same-origin"
    assert api_refusal.status_code == 401
    lines = [(e["path"], e["status"]) for e in logs if e["event"] == "request"]
    assert lines == [
        ("/login", 200),
        (api_refusal.request.url.path, 401),
        ("/favicon.ico", 200),
    ]
    assert all(isinstance(e["ms"], float) for e in logs if e["event"] == "request")
