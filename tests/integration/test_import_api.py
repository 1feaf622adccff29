"""The Pigment-compatible Import API through the web application (SQLite and PostgreSQL):
keys and every reason one is refused, pushes and what they leave behind, the trigger, a
run's status and detailed report, the metadata endpoints. Every JSON answer that the document
describes is validated against its schema."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select

from planport.domain.api_keys import ApiKeyType
from planport.domain.enums import BlockKind, Permission, PropertyType, ValueType
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, VALUE, UnknownItems
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications, items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations
from planport.services.workspace import access, api_keys, members
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import ApiKey, ImportRun
from planport.web import create_app
from tests.integration.builders import PASSWORD, grant
from tests.integration.import_builders import field, mapping
from tests.integration.schedule_builders import folder_configuration, product_list
from tests.pigment_schemas import validate

STATUS = "/api/v1/import/{importId}/status"
GOOD_CSV = b"Country,Revenue\nFR,10\nDE,20\n"


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    (tmp_path / "imports").mkdir()
    return Settings(
        data_dir=tmp_path,
        database_url=db.url,
        import_root=tmp_path / "imports",
        api_pushes_per_hour=5,
        api_max_push_bytes=64 * 1024,
    )


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    # The default executor runs a submitted run inline: the push answers once it ran.
    with TestClient(create_app(settings, db), follow_redirects=False) as test:
        yield test


@pytest.fixture
def revenue(db: Database, admin: Actor, app: ApplicationView) -> uuid.UUID:
    """An upload configuration of a Metric over Country, creating unknown countries."""
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    items.write_items(db, admin, country.id, [{"Code": "FR"}])
    metric = blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id])
    chosen = mapping(
        field(country.id, "Country", unknown=UnknownItems.CREATE), field(VALUE, "Revenue")
    )
    saved = configurations.save_configuration(
        db, admin, metric.id, "Revenue push", FileSettings(), chosen
    )
    return saved.id


@pytest.fixture
def key_of(db: Database, admin: Actor) -> Callable[..., str]:
    def make(
        owner: Actor | None = None,
        key_type: ApiKeyType = ApiKeyType.IMPORT,
        expires_on: date | None = None,
    ) -> str:
        spec = api_keys.KeySpec("Test key", key_type, (owner or admin).email, expires_on=expires_on)
        return api_keys.create_key(db, spec, by=admin, time_zone="UTC").secret

    return make


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def push(
    client: TestClient,
    configuration_id: uuid.UUID | str,
    body: bytes = GOOD_CSV,
    headers: dict[str, str] | None = None,
    path: str = "/api/v1/import/push/csv",
) -> Response:
    return client.post(
        path,
        params={"configurationId": str(configuration_id)},
        content=body,
        headers={"Content-Type": "text/csv", **(headers or {})},
    )


def run_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ImportRun)) or 0


def pushed_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "pushes"
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


# ---------------------------------------------------------------- pushing and following


@pytest.mark.parametrize("path", ["/api/import/push/csv", "/api/v1/import/push/csv"])
def test_a_pushed_file_lands_and_its_report_follows_the_document(
    client: TestClient,
    db: Database,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
    path: str,
) -> None:
    key = key_of()
    body = b"Country,Revenue\nFR,10\nUS,30\nDE,not a number\n"
    answer = push(client, revenue, body, bearer(key), path=path)
    assert answer.status_code == 200, answer.text
    started = answer.json()
    validate(started, path, "post")

    run_id = started["importId"]
    status = client.get(
        STATUS.format(importId=run_id),
        params={"includedDetailedReport": "true"},
        headers=bearer(key),
    )
    assert status.status_code == 200
    report = status.json()
    validate(report, STATUS)
    assert report["importStatus"] == "Completed"
    detail = report["detailedReport"]
    assert detail["blockType"] == "Metric"
    assert detail["summary"] == {
        "insertedCount": 2,
        "updatedCount": 0,
        "deletedCount": 0,
        "skippedCount": 1,
    }
    (skipped,) = detail["impactedBlocks"][0]["skippedData"]
    assert (skipped["reason"], skipped["sourceColumnName"], skipped["count"]) == (
        "ParsingError",
        "Revenue",
        1,
    )
    assert skipped["samples"] == ["not a number"]
    # US and DE were created in Country (DE before its value failed to parse).
    (created,) = detail["autoCreatedDimensionModalities"]
    assert created["count"] == 2

    legacy = client.get(f"/api/import/{run_id}/status", headers=bearer(key)).json()
    validate(legacy, "/api/import/{importId}/status")
    assert legacy["detailedReport"] is None  # only when asked for

    with db.read() as session:
        run = session.get(ImportRun, uuid.UUID(run_id))
        assert run is not None
        assert run.trigger == "api"
        assert run.api_key_id is not None
        assert run.file_sha256 is not None
        assert run.file_size == len(body)


def test_basic_auth_with_the_key_as_user_name_pushes_like_bearer(
    client: TestClient, revenue: uuid.UUID, key_of: Callable[..., str]
) -> None:
    key = key_of()
    answer = client.post(
        "/api/v1/import/push/csv",
        params={"configurationId": str(revenue)},
        content=GOOD_CSV,
        headers={"Content-Type": "application/octet-stream"},
        auth=(key, "any password"),
    )
    assert answer.status_code == 200, answer.text


def test_a_gzip_push_is_decompressed_on_arrival(
    client: TestClient, db: Database, revenue: uuid.UUID, key_of: Callable[..., str]
) -> None:
    answer = push(
        client, revenue, gzip.compress(GOOD_CSV), {**bearer(key_of()), "Content-Encoding": "gzip"}
    )
    assert answer.status_code == 200, answer.text
    with db.read() as session:
        run = session.get(ImportRun, uuid.UUID(answer.json()["importId"]))
        assert run is not None
        assert run.status == "completed"
        assert run.inserted == 2


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (b"", {}, "body is empty"),
        (b"\x00\x01\x02\x03" * 500, {}, "binary"),
        (b"Nation,Amount\nFR,1\n", {}, "Country"),
        (GOOD_CSV, {"Content-Type": "application/json"}, "Content-Type 'application/json'"),
        (b"not gzip at all", {"Content-Encoding": "gzip"}, "not valid gzip"),
        (GOOD_CSV, {"Content-Encoding": "br"}, "'br' is not supported"),
        (b"Country,Revenue\n" + b"FR,1\n" * 20_000, {}, "size limit exceeded"),
        (
            gzip.compress(b"Country,Revenue\n" + b"FR,1\n" * 20_000),
            {"Content-Encoding": "gzip"},
            "size limit exceeded",
        ),
    ],
    ids=[
        "empty",
        "binary",
        "unmatched",
        "content-type",
        "bad-gzip",
        "brotli",
        "too-big",
        "gzip-bomb",
    ],
)
def test_a_bad_push_is_400_with_its_reason_and_leaves_nothing(
    client: TestClient,
    db: Database,
    settings: Settings,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
    body: bytes,
    headers: dict[str, str],
    words: str,
) -> None:
    answer = push(client, revenue, body, {**bearer(key_of()), **headers})
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["message"]
    assert run_count(db) == 0
    assert pushed_files(settings) == []


def test_a_ten_thousand_column_body_is_refused_with_a_reason_not_a_500(
    client: TestClient,
    db: Database,
    settings: Settings,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
) -> None:
    header = ",".join(f"c{i}" for i in range(10_000)).encode()
    answer = push(client, revenue, header + b"\n" + b"1," * 9_999 + b"1\n", bearer(key_of()))
    assert answer.status_code == 400, answer.text
    assert run_count(db) == 0
    assert pushed_files(settings) == []


def test_unknown_malformed_and_in_error_configurations_are_refused(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
) -> None:
    key = key_of()
    unknown = push(client, uuid.uuid4(), headers=bearer(key))
    assert unknown.status_code == 404
    assert unknown.json()["message"] == ("Import configuration with the specified ID was not found")
    malformed = push(client, "not-a-uuid", headers=bearer(key))
    assert malformed.status_code == 400
    assert "configurationId must be a UUID" in malformed.json()["message"]

    products = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Product")
    products = blocks.add_property(db, admin, products.id, "Colour", PropertyType.TEXT)
    colour = products.properties[0].id
    saved = configurations.save_configuration(
        db,
        admin,
        products.id,
        "Products",
        FileSettings(),
        mapping(field(CODE, "Code"), field(colour, "Colour")),
    )
    blocks.remove_property(db, admin, products.id, colour, confirmed=True)
    in_error = push(client, saved.id, b"Code,Colour\nP1,red\n", headers=bearer(key))
    assert in_error.status_code == 400
    shown = configurations.get_configuration(db, admin, saved.id).error
    assert shown is not None
    assert shown in in_error.json()["message"]
    assert run_count(db) == 0


def test_pushes_past_the_hourly_limit_get_429_with_the_documents_words(
    client: TestClient, db: Database, revenue: uuid.UUID, key_of: Callable[..., str]
) -> None:
    key = key_of()
    for _ in range(5):
        assert push(client, revenue, headers=bearer(key)).status_code == 200
    refused = push(client, revenue, headers=bearer(key))
    assert refused.status_code == 429
    assert refused.json()["message"] == (
        "Maximum number of reports per configuration per hour exceeded, maximum: 5. "
        "Please try again later."
    )
    assert int(refused.headers["Retry-After"]) > 0
    assert run_count(db) == 5


def test_the_trigger_runs_a_configuration_that_reads_its_own_source(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    settings: Settings,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
) -> None:
    key = key_of()
    uploads_only = client.post(
        "/api/v1/import/trigger", params={"configurationId": str(revenue)}, headers=bearer(key)
    )
    assert uploads_only.status_code == 400
    assert "Push its file to /api/v1/import/push/csv" in uploads_only.json()["message"]

    products = product_list(db, admin, app, "Product")
    folder = folder_configuration(
        db, admin, products, "Products from the folder", folder=settings.effective_import_root
    )
    answer = client.post(
        "/api/v1/import/trigger", params={"configurationId": str(folder.id)}, headers=bearer(key)
    )
    assert answer.status_code == 200, answer.text
    validate(answer.json(), "/api/v1/import/trigger", "post")
    report = client.get(STATUS.format(importId=answer.json()["importId"]), headers=bearer(key))
    assert report.json()["importStatus"] == "Completed", report.json()


def test_a_run_the_owner_may_not_read_is_404_like_an_unknown_one(
    client: TestClient,
    db: Database,
    admin: Actor,
    member: Actor,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
) -> None:
    run_id = push(client, revenue, headers=bearer(key_of())).json()["importId"]
    outsider = key_of(owner=member)
    for asked in (run_id, str(uuid.uuid4()), "nope"):
        answer = client.get(STATUS.format(importId=asked), headers=bearer(outsider))
        assert answer.status_code == 404
        assert answer.json()["message"] == "Status with the specified importId was not found"


# ---------------------------------------------------------------- keys refused


def test_each_reason_a_key_is_refused_has_its_status_and_reason(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
    new_member: Callable[[str], Actor],
) -> None:
    reader = new_member("reader@example.com")
    grant(db, admin, app.id, reader.email, "Reader")
    leaver = new_member("leaver@example.com")
    grant(db, admin, app.id, leaver.email, "Contributor")
    leaver_key = key_of(owner=leaver)
    members.update_member(db, admin, leaver.id, is_active=False)
    revoked = key_of()
    api_keys.revoke_key(db, revoked[:12], by=admin)
    expiring = key_of(expires_on=date.today() + timedelta(days=1))
    with db.write() as session:  # the expiration date has come: the key stopped at its start
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == expiring[:12]))
        assert row is not None
        assert row.expires_at is not None
        row.expires_at = row.expires_at - timedelta(days=1)

    cases = {
        "missing_key": {},
        "malformed_key": bearer("not-a-key"),
        "unknown_key": bearer("ppk_" + "A" * 43),
        "revoked_key": bearer(revoked),
        "expired_key": bearer(expiring),
        "wrong_key_type": bearer(key_of(key_type=ApiKeyType.EXPORT)),
        "owner_lacks_permission": bearer(key_of(owner=reader)),
        "owner_inactive": bearer(leaver_key),
    }
    for reason, headers in cases.items():
        answer = push(client, revenue, headers=headers)
        expected = 401 if reason.endswith("_key") else 403
        assert answer.status_code == expected, (reason, answer.text)
        assert answer.json()["reason"] == reason
    assert run_count(db) == 0


def test_removing_the_owners_import_data_stops_the_key_at_once(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
    new_member: Callable[[str], Actor],
) -> None:
    owner = new_member("integration@example.com")
    grant(db, admin, app.id, owner.email, "Contributor")
    key = key_of(owner=owner)
    assert push(client, revenue, headers=bearer(key)).status_code == 200
    roles = {r.name: r for r in access.list_roles(db, admin, app.id)}
    contributor = roles["Contributor"]
    access.set_role_permissions(
        db, admin, app.id, contributor.id, set(contributor.permissions) - {Permission.IMPORT_DATA}
    )
    refused = push(client, revenue, headers=bearer(key))
    assert refused.status_code == 403
    assert "Import Data" in refused.json()["message"]


def test_a_key_records_its_last_use_and_address(
    client: TestClient, db: Database, admin: Actor, revenue: uuid.UUID, key_of: Callable[..., str]
) -> None:
    key = key_of()
    (before,) = api_keys.list_keys(db, admin)
    assert before.last_used_at is None
    push(client, revenue, headers=bearer(key))
    (after,) = api_keys.list_keys(db, admin)
    assert after.last_used_at is not None
    assert after.last_used_address == "testclient"


# ---------------------------------------------------------------- metadata


def test_metadata_lists_only_what_the_owner_may_read(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
    new_member: Callable[[str], Actor],
) -> None:
    other = applications.create_application(db, admin, "Secret plans")
    blocks.create_list(db, admin, other.id, BlockKind.DIMENSION_LIST, "Hidden")
    analyst = new_member("analyst@example.com")
    grant(db, admin, app.id, analyst.email, "Reader")
    key = bearer(key_of(owner=analyst, key_type=ApiKeyType.METADATA))

    found = client.get("/api/v1/applications", headers=key).json()
    validate(found, "/api/v1/applications")
    assert [a["name"] for a in found] == [app.name]

    listed = client.get("/api/v1/blocks", params={"applicationId": str(app.id)}, headers=key)
    validate(listed.json(), "/api/v1/blocks")
    assert {(b["name"], b["type"]) for b in listed.json()} == {
        ("Country", "DimensionList"),
        ("Revenue", "Metric"),
    }
    hidden = client.get("/api/v1/blocks", params={"applicationId": str(other.id)}, headers=key)
    assert hidden.status_code == 404

    configured = client.get(
        "/api/v1/importConfigurations", params={"applicationId": str(app.id)}, headers=key
    ).json()
    validate(configured, "/api/v1/importConfigurations")
    assert configured == [{"id": str(revenue), "name": "Revenue push"}]

    views = client.get("/api/v1/views", headers=key).json()
    validate(views, "/api/v1/views")
    assert views == []
    import_key = bearer(key_of(owner=analyst))
    assert client.get("/api/v1/applications", headers=import_key).status_code == 403


def test_an_unknown_api_path_answers_json_not_a_page(client: TestClient) -> None:
    answer = client.get("/api/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"


def test_the_configuration_page_shows_a_ready_to_paste_push_with_the_base_url_and_no_key(
    client: TestClient,
    db: Database,
    admin: Actor,
    settings: Settings,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
) -> None:
    import re

    key = key_of()
    login = client.get("/login").text
    token = re.findall(r'name="csrf_token" value="([^"]+)"', login)[0]
    client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
    page = client.get(f"/configurations/{revenue}").text
    push_url = f"{settings.base_url}/api/v1/import/push/csv?configurationId={revenue}"
    assert push_url in page
    assert "Basic authentication with the key as user name" in page
    assert "/api/v1/import/trigger" not in page  # fed by uploads: nothing to trigger
    assert key not in page
    assert key[:12] not in page


# ---------------------------------------------------------------- Looker's webhook


def looker_payload(data: str | None, title: str = "Revenue by country") -> bytes:
    """What a Looker schedule with the Webhook destination and CSV format posts."""
    attachment = (
        None
        if data is None
        else {"mimetype": "text/csv;charset=utf-8", "extension": "csv", "data": data}
    )
    return json.dumps(
        {
            "type": "Look",
            "scheduled_plan": {"title": title, "url": "https://looker.example.com/looks/7"},
            "attachment": attachment,
            "data": None,
        }
    ).encode()


@pytest.mark.parametrize("path", ["/api/import/push/looker", "/api/v1/import/push/looker"])
def test_a_looker_webhook_with_the_key_in_its_url_lands_with_the_looks_title(
    client: TestClient,
    db: Database,
    settings: Settings,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
    path: str,
) -> None:
    answer = client.post(
        path,
        params={"configurationId": str(revenue), "api_key": key_of()},
        content=looker_payload("Country,Revenue\nFR,10\nDE,20\n"),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    validate(answer.json(), path, "post")
    with db.read() as session:
        run = session.get(ImportRun, uuid.UUID(answer.json()["importId"]))
        assert run is not None
        assert (run.status, run.inserted) == ("completed", 2)
        assert run.file_name == "Revenue by country.csv"
    assert [p.name for p in pushed_files(settings)] == ["Revenue by country.csv"]


def test_the_looker_endpoint_also_takes_a_raw_csv_body(
    client: TestClient, revenue: uuid.UUID, key_of: Callable[..., str]
) -> None:
    answer = push(client, revenue, GOOD_CSV, bearer(key_of()), path="/api/v1/import/push/looker")
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (looker_payload(None), "no attachment"),
        (b'{"scheduled_plan": {"title": "x"}', "not JSON"),
        (
            json.dumps({"attachment": {"extension": "xlsx", "data": "UEsDB"}}).encode(),
            "not CSV",
        ),
        (b"", "no attachment"),
    ],
)
def test_a_looker_payload_without_a_csv_attachment_is_400_and_leaves_nothing(
    client: TestClient,
    db: Database,
    settings: Settings,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
    body: bytes,
    said: str,
) -> None:
    answer = client.post(
        "/api/v1/import/push/looker",
        params={"configurationId": str(revenue)},
        content=body,
        headers={**bearer(key_of()), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert said in answer.json()["message"]
    assert run_count(db) == 0
    assert pushed_files(settings) == []


def test_a_key_in_the_query_string_works_only_on_the_looker_endpoint(
    client: TestClient, db: Database, revenue: uuid.UUID, key_of: Callable[..., str]
) -> None:
    answer = client.post(
        "/api/v1/import/push/csv",
        params={"configurationId": str(revenue), "api_key": key_of()},
        content=GOOD_CSV,
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 401
    assert run_count(db) == 0


def test_an_api_run_shows_its_key_and_pushed_file_in_the_history(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    revenue: uuid.UUID,
    key_of: Callable[..., str],
) -> None:
    from planport.services.imports import runs
    from planport.services.scheduling import history

    run_id = push(client, revenue, GOOD_CSV, bearer(key_of())).json()["importId"]
    [entry] = history.list_history(db, admin, app.id)
    assert entry.trigger.value == "api"
    assert entry.api_key_name == "Test key"
    assert entry.file_name is not None
    assert entry.file_size == len(GOOD_CSV)
    assert runs.get_run(db, admin, uuid.UUID(run_id)).api_key_name == "Test key"
