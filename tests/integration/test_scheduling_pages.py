"""The Import Scheduling pages over a real database: the page and its live sections, the
schedule form and its preview, toggling, editing, deleting and staggering schedules, the
history, and every refusal (a client's mistake re-renders the form, never a 500)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import update

from planport.domain.blocks import BlockDef
from planport.domain.members import Actor
from planport.scheduling import Repeat, Weekday
from planport.services.blocks import applications
from planport.services.blocks.applications import ApplicationView
from planport.services.imports.configurations import ConfigurationView
from planport.services.scheduling import schedules
from planport.services.scheduling.schedules import ScheduleInput
from planport.services.workspace import members
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun
from planport.web import create_app
from tests.integration.history_builders import a_fire, a_run
from tests.integration.import_builders import write_csv
from tests.integration.schedule_builders import (
    at,
    daily,
    folder_configuration,
    make_upload_only,
    product_list,
)
from tests.integration.test_import_pages import log_in

FORM = {
    "start": "2030-03-28T02:30",
    "time_zone": "Europe/Paris",
    "repeat": "daily",
    "every": "1",
    "day": "1",
    "cron": "",
    "enabled": "on",
    "alerts_enabled": "on",
    "alert_recipients": "",
    "grace_minutes": "60",
    "pause_after_failures": "",
}


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    # No retries: a run that fails stays the latest run, as the Failed flag tests want.
    settings = Settings(data_dir=tmp_path, database_url=db.url, run_retries=0)
    (tmp_path / "imports").mkdir()
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def admin_client(client: TestClient, admin: Actor) -> TestClient:
    client.headers["X-CSRF-Token"] = log_in(client, admin.email)
    return client


@pytest.fixture
def products(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    return product_list(db, admin, app, "Product")


@pytest.fixture
def configuration(
    db: Database, admin: Actor, products: BlockDef, tmp_path: Path
) -> ConfigurationView:
    return folder_configuration(db, admin, products)


def base(app: ApplicationView) -> str:
    return f"/applications/{app.id}/scheduling"


def text_of(response: Response) -> str:
    """The page's text without tags, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def post_form(
    client: TestClient, url: str, configuration_id: uuid.UUID | None, **changes: Any
) -> Response:
    data: dict[str, Any] = FORM | changes
    if configuration_id is not None:
        data["configuration"] = str(configuration_id)
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def schedule_of(
    db: Database, actor: Actor, configuration: ConfigurationView, start: str = "2030-03-28T02:30"
) -> schedules.ScheduleView:
    return schedules.create_schedule(db, actor, configuration.id, daily(start))


# ---------------------------------------------------------------- the page


def test_the_application_page_links_to_import_scheduling_only_with_import_data(
    db: Database,
    client: TestClient,
    app: ApplicationView,
    member_as: Callable[[str], Actor],
    admin: Actor,
) -> None:
    reader = member_as("Reader")
    log_in(client, reader.email)
    assert "Import Scheduling" not in client.get(f"/applications/{app.id}").text

    client.cookies.clear()
    log_in(client, admin.email)
    page = client.get(f"/applications/{app.id}")
    assert f'href="{base(app)}">Import Scheduling</a>' in page.text


def test_a_first_visit_offers_to_set_up_scheduled_imports(
    admin_client: TestClient, app: ApplicationView, configuration: ConfigurationView
) -> None:
    page = admin_client.get(base(app))

    assert page.status_code == 200
    text = text_of(page)
    assert "Set up scheduled imports" in text
    assert "Schedule import" in text
    assert "Products from ERP" in text
    assert "Not scheduled." in text
    assert "hx-trigger" not in page.text.split('id="scheduling-sections"')[1].split(">")[0]


def test_a_member_without_import_data_is_refused_every_scheduling_page(
    db: Database,
    client: TestClient,
    app: ApplicationView,
    admin: Actor,
    configuration: ConfigurationView,
    member_as: Callable[[str], Actor],
) -> None:
    scheduled = schedule_of(db, admin, configuration)
    reader = member_as("Reader")
    client.headers["X-CSRF-Token"] = log_in(client, reader.email)
    gets = [
        base(app),
        f"{base(app)}/sections",
        f"{base(app)}/new",
        f"{base(app)}/preview?start=2030-01-01T00:00&time_zone=UTC&repeat=daily",
        f"/applications/{app.id}/history",
        f"/schedules/{scheduled.id}/edit",
    ]
    for url in gets:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Import Data" in response.text, url
    posts = [
        f"{base(app)}/new",
        f"/schedules/{scheduled.id}/edit",
        f"/schedules/{scheduled.id}/enabled",
        f"/schedules/{scheduled.id}/delete",
        f"{base(app)}/stagger",
    ]
    for url in posts:
        assert post_form(client, url, configuration.id).status_code == 403, url
    assert schedules.get_schedule(db, admin, scheduled.id).enabled


def test_an_unknown_application_or_schedule_is_not_found(
    admin_client: TestClient, app: ApplicationView
) -> None:
    assert admin_client.get(f"/applications/{uuid.uuid4()}/scheduling").status_code == 404
    assert admin_client.get(f"/schedules/{uuid.uuid4()}/edit").status_code == 404
    assert admin_client.get("/schedules/not-an-id/edit").status_code == 404


# ---------------------------------------------------------------- the form


def test_scheduling_an_import_lists_it_under_its_configuration_with_its_next_fires(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    members.set_time_zone(db, admin, "America/New_York")
    form = admin_client.get(f"{base(app)}/new?configuration={configuration.id}")
    assert form.status_code == 200
    assert f'<option value="{configuration.id}" selected>' in form.text
    assert 'value="America/New_York"' in form.text  # the member's zone by default

    response = post_form(admin_client, f"{base(app)}/new", configuration.id, days=["mon"])

    assert response.status_code == 303, text_of(response)
    assert response.headers["location"] == base(app)
    page = text_of(admin_client.get(base(app)))
    assert "Schedule added to 'Products from ERP': Every day at 02:30 (Europe/Paris)." in page
    # Next fires in the schedule's zone and in the viewer's (New York, 5 or 6 hours behind).
    assert "Thu 28 Mar 2030 02:30" in page
    assert "2030-03-27 21:30:00 EDT" in page
    assert "Set up scheduled imports" not in page
    [view] = schedules.list_schedules(db, admin, app.id)
    assert view.alert_recipients == ()
    assert view.grace.total_seconds() == 3600
    assert view.pause_after_failures is None
    assert view.alerts_enabled
    assert view.enabled


def test_every_repeat_of_the_form_is_read_into_the_schedule(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    cases: list[tuple[dict[str, Any], Repeat]] = [
        ({"repeat": "none"}, Repeat.none()),
        ({"repeat": "hourly", "every": "6"}, Repeat.hourly(6)),
        ({"repeat": "weekdays"}, Repeat.weekdays()),
        ({"repeat": "weekly", "days": ["mon", "thu"]}, Repeat.weekly({Weekday.MON, Weekday.THU})),
        ({"repeat": "monthly", "day": "last"}, Repeat.monthly("last")),
    ]
    for changes, expected in cases:
        response = post_form(admin_client, f"{base(app)}/new", configuration.id, **changes)
        assert response.status_code == 303, (changes, text_of(response))
        [view] = schedules.list_schedules(db, admin, app.id)
        assert view.times.repeat == expected
        schedules.delete_schedule(db, admin, view.id)
    response = post_form(
        admin_client,
        f"{base(app)}/new",
        configuration.id,
        repeat="cron",
        cron="15 6 * * 1-5",
        alert_recipients="ops@example.com, Finance@Example.com",
        grace_minutes="30",
        pause_after_failures="3",
        enabled=None,
        alerts_enabled=None,
    )
    assert response.status_code == 303, text_of(response)
    [view] = schedules.list_schedules(db, admin, app.id)
    assert view.times.repeat == Repeat.from_cron("15 6 * * 1-5")
    assert view.alert_recipients == ("ops@example.com", "finance@example.com")
    assert view.grace.total_seconds() == 1800
    assert view.pause_after_failures == 3
    assert not view.enabled
    assert not view.alerts_enabled


@pytest.mark.parametrize(
    ("changes", "field_name", "message", "status"),
    [
        ({"start": "tomorrow"}, "start", "'tomorrow' is not a date and time", 422),
        ({"start": ""}, "start", "Give the date and time of the first run.", 422),
        ({"time_zone": "Europe/Pariss"}, "time_zone", "Did you mean Europe/Paris", 422),
        ({"repeat": "cron", "cron": "61 * * * *"}, "cron", "Invalid cron expression", 422),
        ({"repeat": "cron", "cron": "0 6 * *"}, "cron", "A cron expression has 5 fields", 422),
        ({"repeat": "hourly", "every": "200"}, "every", "Repeat every 1 to 168 hours", 422),
        ({"repeat": "weekly"}, "days", "Choose at least one day of the week.", 422),
        ({"grace_minutes": "99999"}, "grace_minutes", "The grace period is between", 422),
        ({"grace_minutes": "soon"}, "grace_minutes", "is not a whole number", 422),
        ({"grace_minutes": "100000000000000000000"}, "grace_minutes", "7 days", 422),
        ({"start": "9999-12-31T23:59"}, "start", "is out of range", 422),
        ({"start": "0001-01-01T00:00"}, "start", "between 1970-01-01 00:00", 422),
        ({"pause_after_failures": "0"}, "pause_after_failures", "Pause after 1 to 100", 422),
        ({"alert_recipients": "not-an-address"}, "alert_recipients", "not-an-address", 422),
    ],
)
def test_a_mistake_re_renders_the_form_with_the_message_next_to_the_field(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    changes: dict[str, str],
    field_name: str,
    message: str,
    status: int,
) -> None:
    response = post_form(admin_client, f"{base(app)}/new", configuration.id, **changes)

    assert response.status_code == status, text_of(response)
    error = re.search(
        rf'<p class="error field-error" role="alert" id="error-{field_name}">(.*?)</p>',
        response.text,
    )
    assert error is not None, text_of(response)
    assert message in html.unescape(error.group(1))
    assert f'aria-describedby="error-{field_name}"' in response.text
    assert f'<option value="{configuration.id}" selected>' in response.text  # values kept
    for name, value in changes.items():
        if name != "repeat" and value:
            assert f'value="{html.escape(value)}"' in response.text, name
    assert schedules.list_schedules(db, admin, app.id) == []


def test_a_configuration_fed_by_uploads_is_marked_and_refused_next_to_its_field(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    make_upload_only(db, configuration.id)
    assert "cannot be scheduled" in text_of(admin_client.get(f"{base(app)}/new"))
    page = text_of(admin_client.get(base(app)))
    assert (
        "1 configuration reads an uploaded file and cannot be scheduled: give it a "
        "server-folder or block source." in page
    )
    assert "It imports a file uploaded with each run" in page  # its own reason, folded
    assert "Add a schedule" not in page

    response = post_form(admin_client, f"{base(app)}/new", configuration.id)

    assert response.status_code == 422
    assert 'id="error-configuration"' in response.text
    assert "uploaded with each run" in text_of(response)


def test_no_configuration_chosen_is_shown_next_to_the_field(
    admin_client: TestClient, app: ApplicationView, configuration: ConfigurationView
) -> None:
    response = post_form(admin_client, f"{base(app)}/new", None)

    assert response.status_code == 422
    assert 'id="error-configuration"' in response.text
    assert "Choose the import configuration to schedule." in text_of(response)


def test_a_fifth_schedule_is_refused_with_a_conflict(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    for hour in range(4):
        schedule_of(db, admin, configuration, f"2030-03-28T0{hour}:15")
    assert "Add a schedule" not in text_of(admin_client.get(base(app)))

    response = post_form(admin_client, f"{base(app)}/new", configuration.id)

    assert response.status_code == 409
    assert "already has 4 schedules" in text_of(response)
    assert 'id="error-configuration"' in response.text


def test_the_preview_shows_the_next_five_fires_in_both_zones_or_the_error(
    db: Database, admin_client: TestClient, admin: Actor, app: ApplicationView
) -> None:
    members.set_time_zone(db, admin, "Asia/Tokyo")
    query = {k: v for k, v in FORM.items() if v} | {"repeat": "weekdays"}

    shown = admin_client.get(f"{base(app)}/preview", params=query, headers={"HX-Request": "true"})

    assert shown.status_code == 200
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", shown.text)
    assert rows[0] == ("Thu 28 Mar 2030 02:30", "Thu 28 Mar 2030 10:30")
    assert [here for here, _ in rows] == [
        "Thu 28 Mar 2030 02:30",
        "Fri 29 Mar 2030 02:30",
        "Mon 01 Apr 2030 02:30",  # Paris moved to summer time on the 31st
        "Tue 02 Apr 2030 02:30",
        "Wed 03 Apr 2030 02:30",
    ]
    assert rows[2][1] == "Mon 01 Apr 2030 09:30"
    assert "Your time (Asia/Tokyo)" in shown.text

    refused = admin_client.get(
        f"{base(app)}/preview", params=query | {"repeat": "cron", "cron": "nonsense"}
    )
    assert refused.status_code == 422
    assert "A cron expression has 5 fields" in text_of(refused)


# ---------------------------------------------------------------- toggle, edit, delete


def test_the_toggle_swaps_its_row_with_htmx_and_redirects_without(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    scheduled = schedule_of(db, admin, configuration)
    url = f"/schedules/{scheduled.id}/enabled"

    row = admin_client.post(url, data={"enabled": "false"}, headers={"HX-Request": "true"})

    assert row.status_code == 200
    assert row.text.lstrip().startswith(f'<tr id="schedule-{scheduled.id}"')
    assert 'role="switch" aria-checked="false"' in row.text
    assert not schedules.get_schedule(db, admin, scheduled.id).enabled

    back = admin_client.post(url, data={"enabled": "true"})
    assert back.status_code == 303
    assert back.headers["location"] == base(app)
    assert schedules.get_schedule(db, admin, scheduled.id).next_fire_at == at("2030-03-28T01:30")
    assert "Schedule turned on" in text_of(admin_client.get(base(app)))


def test_turning_on_a_schedule_of_an_upload_configuration_says_why_in_its_row(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    scheduled = schedules.create_schedule(
        db, admin, configuration.id, daily("2030-03-28T02:30", enabled=False)
    )
    make_upload_only(db, configuration.id)
    url = f"/schedules/{scheduled.id}/enabled"

    row = admin_client.post(url, data={"enabled": "true"}, headers={"HX-Request": "true"})
    assert row.status_code == 422
    assert "uploaded with each run" in text_of(row)
    assert 'aria-checked="false"' in row.text

    page = admin_client.post(url, data={"enabled": "true"})
    assert page.status_code == 422
    assert "uploaded with each run" in text_of(page)


def test_editing_a_schedule_shows_its_values_and_saves_the_change(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    scheduled = schedules.create_schedule(
        db,
        admin,
        configuration.id,
        ScheduleInput(
            at("2030-03-28T02:30").replace(tzinfo=None),
            "Europe/Paris",
            Repeat.monthly(31),
            alert_recipients=("ops@example.com",),
        ),
    )
    form = admin_client.get(f"/schedules/{scheduled.id}/edit")
    assert form.status_code == 200
    assert 'value="2030-03-28T02:30"' in form.text
    assert '<option value="monthly" selected>' in form.text
    assert '<option value="31" selected>' in form.text
    assert 'value="ops@example.com"' in form.text

    saved = post_form(
        admin_client, f"/schedules/{scheduled.id}/edit", None, start="2030-03-28T04:00"
    )

    assert saved.status_code == 303, text_of(saved)
    view = schedules.get_schedule(db, admin, scheduled.id)
    assert view.description == "Every day at 04:00 (Europe/Paris)"
    refused = post_form(admin_client, f"/schedules/{scheduled.id}/edit", None, time_zone="Mars")
    assert refused.status_code == 422
    assert 'id="error-time_zone"' in refused.text


def test_deleting_a_schedule_keeps_its_configuration(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    scheduled = schedule_of(db, admin, configuration)
    page = admin_client.get(base(app))
    assert f'action="/schedules/{scheduled.id}/delete"' in page.text

    deleted = admin_client.post(f"/schedules/{scheduled.id}/delete")

    assert deleted.status_code == 303
    assert schedules.list_schedules(db, admin, app.id) == []
    text = text_of(admin_client.get(base(app)))
    assert "Schedule of 'Products from ERP' deleted" in text
    assert "Products from ERP" in text
    assert admin_client.post(f"/schedules/{scheduled.id}/delete").status_code == 404


def test_the_form_without_a_csrf_token_is_refused(
    client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    log_in(client, admin.email)
    response = post_form(client, f"{base(app)}/new", configuration.id)
    assert response.status_code == 403


# ---------------------------------------------------------------- same minute, stagger


def test_schedules_at_the_same_minute_are_flagged_and_staggered(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    products: BlockDef,
    configuration: ConfigurationView,
) -> None:
    other = folder_configuration(db, admin, products, "Products from CRM")
    first = schedule_of(db, admin, configuration)
    second = schedule_of(db, admin, other)
    page = admin_client.get(base(app))
    text = text_of(page)
    assert "Schedules start at the same minute" in text
    assert "2 schedules next start at" in text
    assert "Pigment's advice is to stagger" in text

    response = admin_client.post(
        f"{base(app)}/stagger",
        data={"schedule_id": [str(first.id), str(second.id)], "stagger_minutes": "10"},
    )

    assert response.status_code == 303
    assert schedules.get_schedule(db, admin, second.id).description == (
        "Every day at 02:40 (Europe/Paris)"
    )
    assert "Schedules start at the same minute" not in text_of(admin_client.get(base(app)))


def test_staggering_refuses_schedules_of_another_application(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    first = schedule_of(db, admin, configuration)
    response = admin_client.post(
        f"{base(app)}/stagger",
        data={"schedule_id": [str(first.id), str(uuid.uuid4())], "stagger_minutes": "5"},
    )
    assert response.status_code == 422
    assert "not one of this application's" in text_of(response)
    bad = admin_client.post(
        f"{base(app)}/stagger", data={"schedule_id": [str(first.id)], "stagger_minutes": "x"}
    )
    assert bad.status_code == 422


# ---------------------------------------------------------------- runs on the page


def test_a_running_import_shows_its_progress_and_keeps_the_sections_polling(
    db: Database,
    admin_client: TestClient,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    run_id = a_run(db, configuration, "running", rows_done=12_400)

    page = admin_client.get(base(app))
    sections = admin_client.get(f"{base(app)}/sections", headers={"HX-Request": "true"})

    for response in (page, sections):
        assert 'hx-trigger="every 1s [' in response.text  # paused under the pointer
        assert "12,400 rows read…" in text_of(response)
        assert f'href="/runs/{run_id}">View summary</a>' in response.text
    assert sections.text.lstrip().startswith('<div id="scheduling-sections"')

    with db.write() as session:
        session.execute(update(ImportRun).values(status="completed", rows_read=12_500))
    done = admin_client.get(f"{base(app)}/sections", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s' not in done.text  # polling stops with the last run
    assert "12,500 rows read" in text_of(done)


def test_a_configuration_whose_last_run_failed_carries_the_failed_flag(
    db: Database,
    admin_client: TestClient,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    a_run(
        db,
        configuration,
        "failed",
        errors='[{"name": "SourceUnavailable", "description": "products.csv is missing."}]',
    )
    with db.write() as session:
        session.execute(update(ImportConfiguration).values(last_run_status="failed"))

    text = text_of(admin_client.get(base(app)))

    assert "Failed" in text.split("Products from ERP", 1)[1]
    assert "products.csv is missing." in text


# ---------------------------------------------------------------- history


def test_the_history_lists_runs_and_missed_fires_newest_first_with_filters(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    products: BlockDef,
    configuration: ConfigurationView,
) -> None:
    scheduled = schedule_of(db, admin, configuration)
    older = a_run(db, configuration, "completed", created_at=at("2026-03-01T08:00"), rows_read=3)
    newer = a_run(
        db,
        configuration,
        "failed",
        created_at=at("2026-03-02T08:00"),
        errors='[{"name": "SourceUnavailable", "description": "products.csv is missing."}]',
    )
    a_fire(db, scheduled.id, configuration, at("2026-03-03T01:30"), "missed")
    url = f"/applications/{app.id}/history"

    page = admin_client.get(url)

    assert page.status_code == 200
    text = text_of(page).split("Filter", 1)[1]
    assert text.index("Missed") < text.index("products.csv is missing.") < text.index("Completed")
    assert "Planport was not running at this time" in text
    assert f'href="/runs/{newer}">View summary</a>' in page.text
    assert f'href="/runs/{older}">View summary</a>' in page.text

    failed_only = admin_client.get(url, params={"status": "failed"})
    assert str(newer) in failed_only.text
    assert str(older) not in failed_only.text
    assert "Planport was not running" not in failed_only.text
    by_day = admin_client.get(url, params={"since": "2026-03-01", "until": "2026-03-01"})
    assert str(older) in by_day.text
    assert str(newer) not in by_day.text
    of_configuration = admin_client.get(url, params={"configuration": str(configuration.id)})
    assert "Import history · Products from ERP" in text_of(of_configuration)
    by_trigger = admin_client.get(url, params={"trigger": "schedule"})
    assert str(newer) not in by_trigger.text
    assert "Missed" in text_of(by_trigger)
    by_block = admin_client.get(url, params={"block": str(uuid.uuid4())})
    assert "No imports match these filters." in text_of(by_block)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "exploded"},
        {"trigger": "magic"},
        {"since": "yesterday"},
        {"block": "not-an-id"},
        {"since": "2026-03-02", "until": "2026-03-01"},
        {"before": "soon"},
    ],
)
def test_a_bad_history_filter_is_a_clear_error(
    admin_client: TestClient, app: ApplicationView, params: dict[str, str]
) -> None:
    response = admin_client.get(f"/applications/{app.id}/history", params=params)
    assert response.status_code == 422
    assert "Internal" not in response.text


def test_the_history_pages_on_to_older_entries(
    db: Database, admin_client: TestClient, app: ApplicationView, configuration: ConfigurationView
) -> None:
    for day in range(1, 28):
        for hour in (8, 9):
            a_run(db, configuration, "completed", created_at=at(f"2026-02-{day:02d}T{hour:02d}:00"))
    first = admin_client.get(f"/applications/{app.id}/history")
    older = re.search(r'<a rel="next" href="([^"]+)">Older entries</a>', first.text)
    assert older is not None
    second = admin_client.get(html.unescape(older.group(1)))
    assert second.status_code == 200
    assert second.text.count("View summary") == 54 - 50
    assert "Older entries" not in second.text


# ---------------------------------------------------------------- the run buttons


def test_starting_an_import_right_now_runs_it_and_shows_it_on_the_page(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    products: BlockDef,
    tmp_path: Path,
) -> None:
    configuration = folder_configuration(db, admin, products, folder=tmp_path / "imports")
    page = admin_client.get(base(app))
    assert f'action="{base(app)}/configurations/{configuration.id}/start"' in page.text

    started = admin_client.post(f"{base(app)}/configurations/{configuration.id}/start")

    assert started.status_code == 303
    assert started.headers["location"] == f"{base(app)}#section-{configuration.id}"
    text = text_of(admin_client.get(base(app)))
    assert "Import of 'Products from ERP' started." in text
    assert "Latest run: Completed" in text
    assert "2 rows read" in text
    assert "Run again" not in text


def test_a_failed_run_carries_the_failed_flag_until_it_runs_again_with_its_file(
    db: Database,
    admin_client: TestClient,
    app: ApplicationView,
    configuration: ConfigurationView,
    tmp_path: Path,
) -> None:
    assert (
        admin_client.post(f"{base(app)}/configurations/{configuration.id}/start").status_code == 303
    )
    page = admin_client.get(base(app))
    text = text_of(page)
    assert "Latest run: Failed" in text
    assert "products.csv" in text.split("Latest run: Failed", 1)[1]  # the reason is shown
    assert 'class="tag run-failed flag-failed">Failed</span>' in page.text
    again = re.search(r'href="(/applications/[^"]+/runs/[^"]+/again)"', page.text)
    assert again is not None
    assert re.search(r'action="/applications/[^"]+/runs/[^"]+/again"', page.text) is None

    write_csv(tmp_path / "imports" / "products.csv", ["Code", "Name"], [["P1", "Pen"]])
    confirmation = admin_client.get(again.group(1))
    assert confirmation.status_code == 200
    shown = text_of(confirmation)
    assert "It reads its source as it is now" in shown
    assert "products.csv" in shown
    assert f'action="{again.group(1)}"' in confirmation.text
    assert f'href="{base(app)}#section-{configuration.id}">Cancel' in confirmation.text
    response = admin_client.post(again.group(1))

    assert response.status_code == 303
    assert response.headers["location"] == f"{base(app)}#section-{configuration.id}"
    page = admin_client.get(base(app))
    assert "flag-failed" not in page.text
    assert "Latest run: Completed" in text_of(page)
    history_text = text_of(admin_client.get(f"/applications/{app.id}/history"))
    assert "Run again" in history_text  # the trigger of the second run


def test_an_upload_configuration_cannot_start_without_a_file(
    db: Database, admin_client: TestClient, app: ApplicationView, configuration: ConfigurationView
) -> None:
    make_upload_only(db, configuration.id)
    assert "Start an import right now" not in admin_client.get(base(app)).text

    refused = admin_client.post(f"{base(app)}/configurations/{configuration.id}/start")

    assert refused.status_code == 409
    assert "Run with a new file" in text_of(refused)


def test_cancelling_a_queued_run_from_the_page(
    db: Database, admin_client: TestClient, app: ApplicationView, configuration: ConfigurationView
) -> None:
    run_id = a_run(db, configuration, "queued")
    page = admin_client.get(base(app))
    cancel = f"{base(app)}/runs/{run_id}/cancel"
    assert f'action="{cancel}"' in page.text

    response = admin_client.post(cancel)

    assert response.status_code == 303
    text = text_of(admin_client.get(base(app)))
    assert "Run cancelled." in text
    assert "Latest run: Cancelled" in text
    assert admin_client.post(cancel).status_code == 409  # already finished


def test_the_run_buttons_refuse_members_without_import_data_and_other_applications(
    db: Database,
    client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    member_as: Callable[[str], Actor],
) -> None:
    run_id = a_run(db, configuration, "failed")
    reader = member_as("Reader")
    client.headers["X-CSRF-Token"] = log_in(client, reader.email)
    assert client.post(f"{base(app)}/configurations/{configuration.id}/start").status_code == 403
    assert client.post(f"{base(app)}/runs/{run_id}/again").status_code == 403
    assert client.post(f"{base(app)}/runs/{run_id}/cancel").status_code == 403

    client.cookies.clear()
    del client.headers["X-CSRF-Token"]
    client.headers["X-CSRF-Token"] = log_in(client, admin.email)
    elsewhere = applications.create_application(db, admin, "Elsewhere")
    assert client.post(f"{base(elsewhere)}/runs/{run_id}/again").status_code == 404
    start_elsewhere = f"{base(elsewhere)}/configurations/{configuration.id}/start"
    assert client.post(start_elsewhere).status_code == 404


@pytest.mark.parametrize("until", ["9999-12-31", "0001-01-01"])
def test_a_history_date_out_of_range_is_refused_naming_the_range(
    admin_client: TestClient, app: ApplicationView, until: str
) -> None:
    response = admin_client.get(f"/applications/{app.id}/history", params={"until": until})

    assert response.status_code == 422, text_of(response)
    assert "give a date between 1970-01-01 and 2199-12-31" in text_of(response)
