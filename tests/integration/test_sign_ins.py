"""Sign-in throttling and audit over a real database, through the login page.

Time moves through the app's injected clock (`app.state.clock`), never by sleeping. The limits
are small (3 per account, 5 per address) so that a test reaches them in a few requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from planport.domain.errors import AuthenticationFailed
from planport.domain.members import Actor
from planport.services.workspace import members, sign_ins
from planport.services.workspace.sign_ins import SignInThrottled, ThrottlePolicy
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import SignIn
from planport.web import create_app
from tests.integration.builders import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WRONG = "not-the-password-at-all"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
ACCOUNT_LOCKED = "Too many failed sign-ins for this account; try again in 15 minutes."


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Site:
    """The login page of one app, reached from any address."""

    app: FastAPI
    clock: Clock
    clients: list[TestClient] = field(default_factory=list)

    def client(self, address: str = "192.0.2.10") -> TestClient:
        client = TestClient(self.app, follow_redirects=False, client=(address, 50000))
        client.__enter__()
        self.clients.append(client)
        return client


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[Site]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=db.url,
        login_max_failures=3,
        login_max_failures_per_address=5,
        login_failure_window_minutes=15,
        login_lock_minutes=15,
    )
    app = create_app(settings, db)
    found = Site(app, Clock())
    app.state.clock = found.clock
    yield found
    for client in found.clients:
        client.__exit__(None, None, None)


def sign_in(client: TestClient, email: str, password: str) -> tuple[int, str, dict[str, str]]:
    """Post the login form as a browser does; (status, page text, headers)."""
    token = CSRF.findall(client.get("/login").text)[0]
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    return response.status_code, response.text, dict(response.headers)


def test_failures_past_the_limit_answer_429_with_retry_after_and_the_wait(
    site: Site, member: Actor
) -> None:
    client = site.client()
    for _ in range(3):
        assert sign_in(client, member.email, WRONG)[0] == 401
    status, page, headers = sign_in(client, member.email, WRONG)
    assert status == 429
    assert headers["retry-after"] == str(15 * 60)
    assert ACCOUNT_LOCKED in page


def test_the_right_password_is_refused_while_locked_and_accepted_once_the_lock_passes(
    site: Site, member: Actor
) -> None:
    client = site.client()
    for _ in range(3):
        sign_in(client, member.email, WRONG)
    site.clock.advance(minutes=14)
    right = sign_in(client, member.email, PASSWORD)
    wrong = sign_in(client, member.email, WRONG)
    # The same answer either way: a lock must not tell whether the password was right.
    assert right[0] == wrong[0] == 429
    assert right[1] == wrong[1]
    assert "try again in 1 minute." in right[1]
    assert right[2]["retry-after"] == wrong[2]["retry-after"] == "60"
    site.clock.advance(minutes=1)
    status, _, headers = sign_in(client, member.email, PASSWORD)
    assert status == 303
    assert headers["location"] == "/"


def test_a_success_starts_the_count_of_the_account_again(site: Site, member: Actor) -> None:
    client = site.client()
    for _ in range(2):
        sign_in(client, member.email, WRONG)
    assert sign_in(site.client(), member.email, PASSWORD)[0] == 303
    for _ in range(2):
        assert sign_in(client, member.email, WRONG)[0] == 401
    assert sign_in(site.client(), member.email, PASSWORD)[0] == 303


def test_unknown_emails_are_locked_like_members_so_the_throttle_reveals_no_one(
    site: Site,
) -> None:
    client = site.client()
    for _ in range(3):
        assert sign_in(client, "nobody@example.com", WRONG)[0] == 401
    status, page, _ = sign_in(client, "nobody@example.com", WRONG)
    assert status == 429
    assert ACCOUNT_LOCKED in page


def test_failures_from_one_address_lock_it_for_every_account_but_not_other_addresses(
    site: Site, member: Actor, new_member: object
) -> None:
    attacker = site.client("203.0.113.7")
    for number in range(5):
        assert sign_in(attacker, f"guess{number}@example.com", WRONG)[0] == 401
    status, page, headers = sign_in(attacker, member.email, PASSWORD)
    assert status == 429
    assert "Too many failed sign-ins from your network address" in page
    assert int(headers["retry-after"]) == 15 * 60
    assert sign_in(site.client("198.51.100.4"), member.email, PASSWORD)[0] == 303


def test_the_account_page_lists_the_members_recent_sign_ins_with_failures(
    site: Site, member: Actor, admin: Actor
) -> None:
    elsewhere = site.client("203.0.113.7")
    sign_in(elsewhere, member.email, WRONG)
    sign_in(elsewhere, admin.email, WRONG)  # someone else's: not on this page
    site.clock.advance(minutes=1)
    own = site.client("198.51.100.4")
    assert sign_in(own, member.email, PASSWORD)[0] == 303
    page = own.get("/account").text
    rows = re.findall(r'<tr class="sign-in-(\w+)"><td>([^<]+)</td><td>([^<]+)</td>', page)
    assert [(outcome, address) for outcome, _, address in rows] == [
        ("success", "198.51.100.4"),
        ("wrong_password", "203.0.113.7"),
    ]
    assert rows[0][1] == "2026-05-04 09:01:00 UTC"
    assert "Wrong password" in page
    assert "Signed in" in page


def test_the_account_page_shows_the_last_ten_sign_ins(site: Site, member: Actor) -> None:
    for _ in range(12):
        site.clock.advance(minutes=1)
        client = site.client()  # a browser of its own for each sign-in
        assert sign_in(client, member.email, PASSWORD)[0] == 303
    page = client.get("/account").text
    assert page.count('<tr class="sign-in-success">') == 10
    assert "2026-05-04 09:12:00 UTC" in page
    assert "2026-05-04 09:02:00 UTC" not in page


def test_audit_events_name_member_address_and_outcome_but_never_the_password(
    site: Site, member: Actor
) -> None:
    client = site.client("203.0.113.7")
    with structlog.testing.capture_logs() as events:
        sign_in(client, member.email, WRONG)
        sign_in(client, "   ", WRONG)
        sign_in(client, PASSWORD, WRONG)  # a password typed into the e-mail field
        sign_in(client, member.email, PASSWORD)
    audit = [e for e in events if str(e["event"]).startswith("sign_in.")]
    assert [(e["event"], e["outcome"], e["login"], e["address"]) for e in audit] == [
        ("sign_in.failed", "wrong_password", member.email, "203.0.113.7"),
        ("sign_in.failed", "unknown_member", "(not an e-mail address)", "203.0.113.7"),
        ("sign_in.failed", "unknown_member", "(not an e-mail address)", "203.0.113.7"),
        ("sign_in.succeeded", "success", member.email, "203.0.113.7"),
    ]
    assert WRONG not in repr(events)
    assert PASSWORD not in repr(events)


def test_throttled_attempts_are_logged_and_recorded_at_most_once_a_minute(
    site: Site, member: Actor, db: Database
) -> None:
    client = site.client()
    for _ in range(3):
        sign_in(client, member.email, WRONG)
    with structlog.testing.capture_logs() as events:
        for _ in range(20):
            assert sign_in(client, member.email, PASSWORD)[0] == 429
        site.clock.advance(minutes=1, seconds=1)
        assert sign_in(client, member.email, PASSWORD)[0] == 429
    throttled = [e for e in events if e["event"] == "sign_in.throttled"]
    assert len(throttled) == 2
    assert throttled[0]["login"] == member.email
    assert throttled[0]["scope"] == "account"
    outcomes = [s.outcome.value for s in sign_ins.recent(db, member.id)]
    assert outcomes == ["throttled", "throttled", *["wrong_password"] * 3]


def test_parallel_guesses_never_get_past_the_limit(db: Database, member: Actor) -> None:
    policy = ThrottlePolicy(max_failures_per_account=3, max_failures_per_address=100)

    def guess(number: int) -> str:
        try:
            members.log_in(
                db, member.email, WRONG, hours=1, address=f"10.0.0.{number}", policy=policy, now=T0
            )
        except SignInThrottled:
            return "throttled"
        except AuthenticationFailed:
            return "refused"
        return "signed in"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(guess, range(16)))
    assert answers.count("refused") == 3
    assert answers.count("throttled") == 13


def test_sign_ins_older_than_the_retention_are_pruned(db: Database, member: Actor) -> None:
    policy = ThrottlePolicy(retention=timedelta(days=90))
    members.log_in(db, member.email, PASSWORD, hours=1, policy=policy, now=T0)
    later = T0 + timedelta(days=90, seconds=1)
    members.log_in(db, member.email, PASSWORD, hours=1, policy=policy, now=later)
    with db.read() as session:
        kept = session.scalars(select(SignIn.at)).all()
        assert session.scalar(select(func.count()).select_from(SignIn)) == 1
    assert kept == [later]
