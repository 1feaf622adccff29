"""Alert messages: the e-mail and the webhook payload people and tools receive."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from planport.alerts.messages import (
    MAX_ERRORS_SHOWN,
    AlertContext,
    AlertError,
    Message,
    RunCounts,
    render_email,
    render_webhook,
    summary_link,
)
from planport.alerts.policy import Alert, FirstFailure, Paused, Recovered, StillFailing
from planport.domain.imports import RunStatus

CONFIGURATION_ID = uuid.UUID("3f0c2a9e-1b7d-4c55-9e0a-6d2f8b1c4e77")
RUN_ID = uuid.UUID("9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d")
SCHEDULED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 02:30 in Paris (CET)
FINISHED = datetime(2026, 3, 2, 1, 31, 12, tzinfo=UTC)
SINCE = datetime(2026, 2, 27, 1, 30, 40, tzinfo=UTC)
UNREADABLE = AlertError(
    "FileUnreadable", "The file is not UTF-8 (byte 0xE9 on line 12). Choose its encoding."
)


def context(**changes: object) -> AlertContext:
    values: dict[str, object] = {
        "application_name": "Budget 2025",
        "configuration_name": "Sales actuals",
        "configuration_id": CONFIGURATION_ID,
        "block_name": "Revenue",
        "run_id": RUN_ID,
        "status": RunStatus.FAILED,
        "finished_at": FINISHED,
        "summary_url": "https://plan.example.com/applications/1/runs/9a1b",
        "errors": [UNREADABLE],
        "counts": RunCounts(rows_read=1200, skipped=12),
        "scheduled_for": SCHEDULED,
        "time_zone": "Europe/Paris",
    }
    values.update(changes)
    return AlertContext(**values)  # type: ignore[arg-type]


def recovered_context() -> AlertContext:
    return context(status=RunStatus.COMPLETED, errors=[], counts=RunCounts(1200, 40, 1150, 0, 10))


def email(alert: Alert, ctx: AlertContext | None = None) -> Message:
    return render_email(alert, ctx or context(), ["anna@example.com", "ben@example.com"])


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _TextOf()
    parser.feed(markup)
    return " ".join("".join(parser.parts).split())


def test_a_first_failure_email_names_the_import_the_block_and_the_application() -> None:
    message = email(FirstFailure(FINISHED))
    assert message.subject == "[Planport] Import failed: Sales actuals → Revenue"
    assert message.recipients == ("anna@example.com", "ben@example.com")
    text = " ".join(message.text.split())
    assert (
        'The scheduled run of the import "Sales actuals" into the block "Revenue" of the '
        'application "Budget 2025" failed.'
    ) in text
    assert "the block still holds the data it had before this run" in text


def test_the_email_gives_the_error_counts_times_and_the_summary_link() -> None:
    text = email(FirstFailure(FINISHED)).text
    assert "(FileUnreadable)" in " ".join(text.split())
    assert "byte 0xE9 on line 12" in " ".join(text.split())
    assert "Import configuration: Sales actuals" in text
    assert f"Configuration ID:     {CONFIGURATION_ID}" in text
    assert f"{RUN_ID} (failed)" in text
    assert "Scheduled for:        Mon 2 Mar 2026, 02:30 CET" in text
    assert "Finished:             Mon 2 Mar 2026, 02:31 CET" in text
    assert "Rows read:            1,200" in text
    assert "0 inserted, 0 updated, 0 deleted, 12 skipped" in text
    assert "Import Summary: https://plan.example.com/applications/1/runs/9a1b" in text


def test_plain_text_lines_stay_short_for_mail_clients_except_the_link() -> None:
    for line in email(FirstFailure(FINISHED)).text.splitlines():
        assert len(line) <= 78 or line.startswith("Import Summary: ")


def test_times_are_shown_in_the_schedule_time_zone() -> None:
    summer = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)
    text = email(FirstFailure(summer), context(finished_at=summer, scheduled_for=None)).text
    assert "Wed 1 Jul 2026, 02:30 CEST" in text
    assert "Scheduled for" not in text
    in_utc = email(FirstFailure(FINISHED), context(time_zone="UTC")).text
    assert "Mon 2 Mar 2026, 01:31 UTC" in in_utc


def test_an_unknown_time_zone_shows_utc_rather_than_losing_the_alert() -> None:
    text = email(FirstFailure(FINISHED), context(time_zone="Mars/Olympus")).text
    assert "Mon 2 Mar 2026, 01:31 UTC" in text


def test_a_still_failing_email_counts_the_failures_since_the_first() -> None:
    message = email(StillFailing(failures=5, since=SINCE))
    assert message.subject == (
        "[Planport] Still failing: Sales actuals → Revenue (5 times since Fri 27 Feb 2026)"
    )
    text = " ".join(message.text.split())
    assert "5 scheduled runs in a row have failed since Fri 27 Feb 2026, 02:30 CET" in text
    assert "one reminder a day" in text


def test_a_pause_email_says_nothing_runs_until_someone_resumes_it() -> None:
    message = email(Paused(failures=3, since=SINCE))
    assert message.subject == "[Planport] Schedule paused: Sales actuals → Revenue after 3 failures"
    text = " ".join(message.text.split())
    assert "paused the schedule" in text
    assert "after 3 failed runs in a row since Fri 27 Feb 2026, 02:30 CET" in text
    assert "It will not run by itself until someone resumes the schedule." in text


def test_a_pause_after_one_failure_speaks_of_one_run() -> None:
    assert "after 1 failed run in a row" in " ".join(email(Paused(1, FINISHED)).text.split())


def test_a_recovery_email_says_it_works_again_without_the_old_errors() -> None:
    message = email(Recovered(failures=4, since=SINCE), recovered_context())
    assert message.subject == "[Planport] Working again: Sales actuals → Revenue"
    text = " ".join(message.text.split())
    assert "completed again, after 4 failed runs since Fri 27 Feb 2026, 02:30 CET" in text
    assert "40 inserted, 1,150 updated, 0 deleted, 10 skipped" in text
    assert "What went wrong" not in text
    assert "No further e-mails about these failures will follow." in text


def test_a_recovery_while_paused_asks_to_resume_the_schedule() -> None:
    alert = Recovered(failures=1, since=SINCE, schedule_paused=True)
    text = " ".join(email(alert, recovered_context()).text.split())
    assert "after 1 failed run since" in text
    assert "Its schedule is still paused" in text


def test_long_error_lists_are_cut_and_point_to_the_summary() -> None:
    errors = [AlertError(f"Error{i}", f"Problem number {i}.") for i in range(25)]
    message = email(FirstFailure(FINISHED), context(errors=errors))
    assert f"Problem number {MAX_ERRORS_SHOWN - 1}." in message.text
    assert f"Problem number {MAX_ERRORS_SHOWN}." not in message.text
    assert f"… and {25 - MAX_ERRORS_SHOWN} more in the Import Summary." in message.text
    assert message.html is not None
    assert f"… and {25 - MAX_ERRORS_SHOWN} more" in message.html


def test_credentials_inside_error_texts_are_hidden() -> None:
    leaky = AlertError(
        "SourceUnreachable", "sftp://planner:hunter2@files.example.com/in refused the login."
    )
    ctx = context(errors=[leaky])
    message = email(FirstFailure(FINISHED), ctx)
    payload = json.dumps(render_webhook(FirstFailure(FINISHED), ctx))
    for rendered in (message.text, message.html or "", payload):
        assert "hunter2" not in rendered
        assert "planner" not in rendered
        assert "sftp://***@files.example.com/in" in rendered


def test_the_html_body_says_the_same_as_the_text_and_escapes_names() -> None:
    ctx = context(configuration_name='Sales <EMEA> & "APAC"', block_name="Revenue")
    message = email(FirstFailure(FINISHED), ctx)
    assert message.html is not None
    assert "<EMEA>" not in message.html
    assert "Sales &lt;EMEA&gt; &amp; &quot;APAC&quot;" in message.html
    shown = html_text(message.html)
    assert 'The scheduled run of the import "Sales <EMEA> & "APAC"" into the block' in shown
    assert "Mon 2 Mar 2026, 02:30 CET" in shown
    assert '<a href="https://plan.example.com/applications/1/runs/9a1b">' in message.html


def test_a_message_survives_the_outbox_as_json() -> None:
    message = email(StillFailing(2, SINCE))
    stored = json.loads(json.dumps(message.as_dict()))
    assert Message.from_dict(stored) == message
    assert Message.from_dict({**stored, "html": None}).html is None


def test_the_webhook_payload_has_slack_text_and_structured_fields() -> None:
    payload = render_webhook(FirstFailure(FINISHED), context())
    assert payload["text"] == (
        "Import failed: Sales actuals → Revenue. The file is not UTF-8 (byte 0xE9 on line 12). "
        "Choose its encoding. Import Summary: https://plan.example.com/applications/1/runs/9a1b"
    )
    assert payload["event"] == "first_failure"
    assert payload["application"] == "Budget 2025"
    assert payload["configuration"] == {"id": str(CONFIGURATION_ID), "name": "Sales actuals"}
    assert payload["block"] == "Revenue"
    assert payload["run"] == {
        "id": str(RUN_ID),
        "status": "failed",
        "scheduled_for": "2026-03-02T01:30:00+00:00",
        "finished_at": "2026-03-02T01:31:12+00:00",
        "counts": {"rows_read": 1200, "inserted": 0, "updated": 0, "deleted": 0, "skipped": 12},
        "errors": [{"name": UNREADABLE.name, "description": UNREADABLE.description}],
        "summary_url": "https://plan.example.com/applications/1/runs/9a1b",
    }
    assert payload["failures"] == {"count": 1, "since": "2026-03-02T01:31:12+00:00"}
    assert payload["schedule_paused"] is False
    json.dumps(payload)  # plain JSON values only


@pytest.mark.parametrize(
    ("alert", "event", "paused"),
    [
        (StillFailing(5, SINCE), "still_failing", False),
        (Paused(3, SINCE), "paused", True),
        (Recovered(4, SINCE), "recovered", False),
        (Recovered(4, SINCE, schedule_paused=True), "recovered", True),
    ],
)
def test_every_alert_kind_has_its_event_and_streak_in_the_payload(
    alert: Alert, event: str, paused: bool
) -> None:
    payload = render_webhook(alert, context())
    assert payload["event"] == event
    assert payload["failures"] == {"count": alert.failures, "since": "2026-02-27T01:30:40+00:00"}
    assert payload["schedule_paused"] is paused


def test_a_webhook_for_a_run_without_errors_or_schedule_time_is_still_complete() -> None:
    ctx = context(status=RunStatus.COMPLETED, errors=[], scheduled_for=None)
    payload = render_webhook(Recovered(2, SINCE), ctx)
    assert payload["text"] == (
        "Working again: Sales actuals → Revenue. "
        "Import Summary: https://plan.example.com/applications/1/runs/9a1b"
    )
    assert payload["run"]["scheduled_for"] is None
    assert payload["run"]["errors"] == []


@pytest.mark.parametrize(
    ("base", "path"),
    [
        ("https://plan.example.com", "/applications/1/runs/2"),
        ("https://plan.example.com/", "applications/1/runs/2"),
        ("https://plan.example.com/", "/applications/1/runs/2"),
    ],
)
def test_the_summary_link_joins_the_base_url_and_the_path_with_one_slash(
    base: str, path: str
) -> None:
    assert summary_link(base, path) == "https://plan.example.com/applications/1/runs/2"


def test_naive_times_in_a_context_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        context(finished_at=datetime(2026, 3, 2, 1, 31))
