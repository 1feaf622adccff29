"""Members: accounts, passwords, logins and sessions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from planport.domain.clock import utc_now
from planport.domain.enums import AccountType
from planport.domain.errors import (
    AuthenticationFailed,
    Conflict,
    Invalid,
    NotFound,
    PermissionDenied,
)
from planport.domain.members import Actor
from planport.services.workspace import members
from planport.store.db import Database
from planport.store.models import Member, MemberSession
from tests.integration.builders import PASSWORD

HOURS = 12


def stored_hash(db: Database, email: str) -> str:
    with db.read() as session:
        value = session.scalar(select(Member.password_hash).where(Member.email == email))
    assert value is not None
    return value


# ---------------------------------------------------------------- creating members


def test_a_new_member_gets_a_normalised_email_and_a_default_display_name(db: Database) -> None:
    created = members.create_member(db, "  Ada.Lovelace@Example.COM ", PASSWORD)
    assert created.email == "ada.lovelace@example.com"
    assert created.display_name == "ada.lovelace"
    assert created.account_type is AccountType.MEMBER
    assert created.is_active
    assert members.find_member(db, "ADA.LOVELACE@example.com") == created


def test_an_address_that_is_not_an_email_is_refused_on_the_email_field(db: Database) -> None:
    for email in ("", "ada", "ada@", "@example.com", "ada@example", "a b@x.org"):
        with pytest.raises(Invalid, match="is not an e-mail address") as raised:
            members.create_member(db, email, PASSWORD)
        assert raised.value.field == "email"
    assert members.list_members(db) == []


def test_a_password_shorter_than_ten_characters_is_refused_on_the_password_field(
    db: Database,
) -> None:
    with pytest.raises(Invalid, match="at least 10 characters") as raised:
        members.create_member(db, "ada@example.com", "123456789")
    assert raised.value.field == "password"
    assert members.find_member(db, "ada@example.com") is None


def test_a_duplicate_email_is_a_conflict_whatever_its_case(db: Database, member: Actor) -> None:
    with pytest.raises(Conflict, match="already exists") as raised:
        members.create_member(db, "MEMBER@example.com", "another password")
    assert raised.value.field == "email"
    assert [m.email for m in members.list_members(db)] == ["member@example.com"]


def test_the_password_is_stored_as_an_argon2_hash_never_as_plaintext(
    db: Database, member: Actor
) -> None:
    stored = stored_hash(db, member.email)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_only_admins_add_members(db: Database, admin: Actor, member: Actor) -> None:
    with pytest.raises(PermissionDenied):
        members.create_member(db, "eve@example.com", PASSWORD, actor=member)
    created = members.create_member(db, "bob@example.com", PASSWORD, actor=admin)
    assert created.email == "bob@example.com"
    assert members.find_member(db, "eve@example.com") is None


# ---------------------------------------------------------------- logging in


def test_the_right_password_logs_in_and_the_session_resolves_to_the_member(
    db: Database, member: Actor
) -> None:
    login = members.log_in(db, " Member@Example.com ", PASSWORD, hours=HOURS)
    assert login.actor == member
    resolved = members.resolve_session(db, login.token, hours=HOURS)
    assert resolved is not None
    assert resolved.actor == member
    assert resolved.csrf_token == login.csrf_token
    assert members.find_member(db, member.email).last_login_at is not None  # type: ignore[union-attr]


def test_each_login_gets_its_own_secret_token(db: Database, member: Actor) -> None:
    first = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    second = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    assert first.token != second.token
    assert first.csrf_token != second.csrf_token
    with db.read() as session:
        hashes = set(session.scalars(select(MemberSession.token_hash)))
    assert first.token not in hashes
    assert second.token not in hashes


def test_a_wrong_password_and_an_unknown_email_fail_with_the_same_message(
    db: Database, member: Actor
) -> None:
    with pytest.raises(AuthenticationFailed) as wrong_password:
        members.log_in(db, member.email, "not the password", hours=HOURS)
    with pytest.raises(AuthenticationFailed) as unknown_email:
        members.log_in(db, "nobody@example.com", PASSWORD, hours=HOURS)
    assert wrong_password.value.message == unknown_email.value.message
    assert "not correct" in wrong_password.value.message


def test_an_unknown_session_token_resolves_to_nobody(db: Database, member: Actor) -> None:
    login = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    for token in ("", "made-up-token", login.csrf_token):
        assert members.resolve_session(db, token, hours=HOURS) is None


def test_logging_out_ends_that_session_only(db: Database, member: Actor) -> None:
    phone = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    laptop = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    members.log_out(db, phone.token)
    assert members.resolve_session(db, phone.token, hours=HOURS) is None
    assert members.resolve_session(db, laptop.token, hours=HOURS) is not None


def test_an_expired_session_resolves_to_nobody(db: Database, member: Actor) -> None:
    login = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    with db.write() as session:
        session.execute(update(MemberSession).values(expires_at=utc_now() - timedelta(seconds=1)))
    assert members.resolve_session(db, login.token, hours=HOURS) is None


def test_using_a_session_slides_its_expiry(db: Database, member: Actor) -> None:
    login = members.log_in(db, member.email, PASSWORD, hours=1)
    soon = utc_now() + timedelta(minutes=10)
    with db.write() as session:
        session.execute(update(MemberSession).values(expires_at=soon))
    assert members.resolve_session(db, login.token, hours=1) is not None
    with db.read() as session:
        expires_at = session.scalar(select(MemberSession.expires_at))
    assert expires_at is not None
    assert expires_at > utc_now() + timedelta(minutes=55)


# ---------------------------------------------------------------- deactivating, passwords


def test_a_deactivated_member_cannot_log_in_and_their_sessions_end(
    db: Database, admin: Actor, member: Actor
) -> None:
    login = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    changed = members.update_member(db, admin, member.id, is_active=False)
    assert not changed.is_active
    assert members.resolve_session(db, login.token, hours=HOURS) is None
    with pytest.raises(AuthenticationFailed, match="not correct"):
        members.log_in(db, member.email, PASSWORD, hours=HOURS)


def test_a_reactivated_member_can_log_in_again(db: Database, admin: Actor, member: Actor) -> None:
    members.update_member(db, admin, member.id, is_active=False)
    members.update_member(db, admin, member.id, is_active=True)
    assert members.log_in(db, member.email, PASSWORD, hours=HOURS).actor == member


def test_only_admins_change_members(db: Database, admin: Actor, member: Actor) -> None:
    with pytest.raises(PermissionDenied):
        members.update_member(db, member, admin.id, is_active=False)
    with pytest.raises(PermissionDenied):
        members.update_member(db, member, member.id, account_type=AccountType.ADMIN)
    assert members.find_member(db, member.email).account_type is AccountType.MEMBER  # type: ignore[union-attr]


def test_changing_an_unknown_member_is_not_found(db: Database, admin: Actor) -> None:
    with pytest.raises(NotFound):
        members.update_member(db, admin, uuid.uuid4(), is_active=False)


def test_the_last_admin_can_neither_be_demoted_nor_deactivated(db: Database, admin: Actor) -> None:
    with pytest.raises(Conflict, match="last active admin"):
        members.update_member(db, admin, admin.id, account_type=AccountType.MEMBER)
    with pytest.raises(Conflict, match="last active admin"):
        members.update_member(db, admin, admin.id, is_active=False)
    view = members.find_member(db, admin.email)
    assert view is not None
    assert view.account_type is AccountType.ADMIN
    assert view.is_active


def test_an_admin_can_be_demoted_while_another_admin_remains(
    db: Database, admin: Actor, new_member: Callable[[str], Actor]
) -> None:
    other = new_member("second@example.com")
    members.update_member(db, admin, other.id, account_type=AccountType.ADMIN)
    demoted = members.update_member(db, admin, admin.id, account_type=AccountType.MEMBER)
    assert demoted.account_type is AccountType.MEMBER
    # Now `other` is the last one.
    with pytest.raises(Conflict, match=r"second@example\.com is the last active admin"):
        members.update_member(db, admin, other.id, is_active=False)


def test_an_inactive_admin_does_not_count_as_a_remaining_admin(
    db: Database, admin: Actor, new_member: Callable[[str], Actor]
) -> None:
    other = new_member("second@example.com")
    members.update_member(db, admin, other.id, account_type=AccountType.ADMIN)
    members.update_member(db, admin, other.id, is_active=False)
    with pytest.raises(Conflict, match="last active admin"):
        members.update_member(db, admin, admin.id, is_active=False)


def test_an_inactive_admin_can_be_demoted_while_an_active_admin_remains(
    db: Database, admin: Actor, new_member: Callable[[str], Actor]
) -> None:
    other = new_member("second@example.com")
    members.update_member(db, admin, other.id, account_type=AccountType.ADMIN)
    members.update_member(db, admin, other.id, is_active=False)
    demoted = members.update_member(db, admin, other.id, account_type=AccountType.MEMBER)
    assert demoted.account_type is AccountType.MEMBER


def test_setting_a_password_replaces_the_old_one_and_ends_all_sessions(
    db: Database, member: Actor
) -> None:
    login = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    members.set_password(db, member.email, "a brand new password")
    assert members.resolve_session(db, login.token, hours=HOURS) is None
    with pytest.raises(AuthenticationFailed):
        members.log_in(db, member.email, PASSWORD, hours=HOURS)
    assert members.log_in(db, member.email, "a brand new password", hours=HOURS).actor == member


def test_a_short_new_password_is_refused_and_the_old_one_still_works(
    db: Database, member: Actor
) -> None:
    with pytest.raises(Invalid, match="at least 10"):
        members.set_password(db, member.email, "short")
    assert members.log_in(db, member.email, PASSWORD, hours=HOURS).actor == member


def test_setting_the_password_of_an_unknown_email_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound, match=r"nobody@example\.com"):
        members.set_password(db, "nobody@example.com", "a brand new password")


def test_a_member_chooses_an_iana_time_zone(db: Database, member: Actor) -> None:
    members.set_time_zone(db, member, "Europe/Paris")
    assert members.actor_for(db, member.email).time_zone == "Europe/Paris"
    with pytest.raises(Invalid) as raised:
        members.set_time_zone(db, member, "Mars/Olympus")
    assert raised.value.field == "time_zone"
    assert members.actor_for(db, member.email).time_zone == "Europe/Paris"


def test_a_member_changes_their_own_password_keeping_only_the_current_session(
    db: Database, member: Actor
) -> None:
    here = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    elsewhere = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    members.change_own_password(db, member, PASSWORD, "my new passphrase", keep_token=here.token)
    assert members.resolve_session(db, here.token, hours=HOURS) is not None
    assert members.resolve_session(db, elsewhere.token, hours=HOURS) is None
    assert members.log_in(db, member.email, "my new passphrase", hours=HOURS).actor == member


def test_changing_ones_password_needs_the_current_one(db: Database, member: Actor) -> None:
    login = members.log_in(db, member.email, PASSWORD, hours=HOURS)
    with pytest.raises(AuthenticationFailed, match="current password"):
        members.change_own_password(db, member, "a wrong guess", "my new passphrase")
    with pytest.raises(Invalid, match="at least 10"):
        members.change_own_password(db, member, PASSWORD, "short")
    assert members.resolve_session(db, login.token, hours=HOURS) is not None
    assert members.log_in(db, member.email, PASSWORD, hours=HOURS).actor == member
