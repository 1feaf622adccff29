"""Members: accounts, passwords (argon2) and logins (server-side sessions)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

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
from planport.domain.names import clean_name
from planport.services.workspace import sign_ins
from planport.services.workspace.sign_ins import Outcome, ThrottlePolicy
from planport.store.db import Database
from planport.store.models import (
    ApiKey,
    Application,
    ImportConfiguration,
    ImportSchedule,
    Member,
    MemberSession,
)

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class MemberView:
    id: uuid.UUID
    email: str
    display_name: str
    account_type: AccountType
    is_active: bool
    time_zone: str
    last_login_at: datetime | None
    is_integration: bool = False

    @property
    def kind_label(self) -> str:
        if self.is_integration:
            return "Integration"
        return "Workspace admin" if self.account_type is AccountType.ADMIN else "Member"


@dataclass(frozen=True, slots=True)
class Owned:
    """What a member owns that would stop working without them: API keys that are not
    revoked, and schedules (whose runs act with their owner's rights)."""

    keys: tuple[str, ...]  # names
    schedules: tuple[str, ...]  # "configuration · application"

    def __bool__(self) -> bool:
        return bool(self.keys or self.schedules)


@dataclass(frozen=True, slots=True)
class Login:
    """A started session: the token goes into the cookie, the CSRF token into forms."""

    token: str
    csrf_token: str
    actor: Actor


def clean_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 320:
        raise Invalid(f"{raw.strip()!r} is not an e-mail address.", field="email")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            field="password",
        )


def create_member(
    db: Database,
    email: str,
    password: str,
    *,
    display_name: str = "",
    account_type: AccountType = AccountType.MEMBER,
    actor: Actor | None = None,
) -> MemberView:
    """Create a member. `actor` None means the command line (trusted); else it must be an admin.

    Raises Invalid for a bad e-mail or password and Conflict when the e-mail is taken.
    """
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only workspace admins can add members.")
    address = clean_email(email)
    check_password(password)
    name = clean_name(display_name or address.split("@")[0], what="display", field="display_name")
    with db.write() as session:
        if session.scalar(select(Member.id).where(Member.email == address)):
            raise Conflict(f"A member with the e-mail {address!r} already exists.", field="email")
        member = Member(
            email=address,
            display_name=name,
            password_hash=_hasher.hash(password),
            account_type=account_type.value,
        )
        session.add(member)
        session.flush()
        return _view(member)


def create_integration(
    db: Database, name: str, *, email: str = "", actor: Actor | None = None
) -> MemberView:
    """Create an integration member: it cannot sign in (no password), exists to own API keys
    and schedules, and is given application roles like anyone. `email` is its identifier
    (default: made from the name under integrations.invalid, a domain that never delivers)."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only workspace admins can add integrations.")
    display = clean_name(name, what="integration", field="display_name")
    address = clean_email(email) if email.strip() else _integration_address(display)
    with db.write() as session:
        if session.scalar(select(Member.id).where(Member.email == address)):
            raise Conflict(f"A member with the e-mail {address!r} already exists.", field="email")
        member = Member(
            email=address,
            display_name=display,
            password_hash="",  # matches no password: see _password_matches
            account_type=AccountType.MEMBER.value,
            is_integration=True,
        )
        session.add(member)
        session.flush()
        return _view(member)


def owned_by(db: Database, member_id: uuid.UUID) -> Owned:
    """The API keys (not revoked) and schedules a member owns, for the deactivation page."""
    with db.read() as session:
        keys = session.scalars(
            select(ApiKey.name)
            .where(ApiKey.owner_id == member_id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.name)
        ).all()
        schedules = session.execute(
            select(ImportConfiguration.name, Application.name)
            .select_from(ImportSchedule)
            .join(ImportConfiguration, ImportConfiguration.id == ImportSchedule.configuration_id)
            .join(Application, Application.id == ImportSchedule.application_id)
            .where(ImportSchedule.owner_id == member_id)
            .order_by(Application.name, ImportConfiguration.name)
        ).all()
        return Owned(tuple(keys), tuple(f"{c} · {a}" for c, a in schedules))


def transfer_ownership(db: Database, actor: Actor, from_id: uuid.UUID, to_id: uuid.UUID) -> Owned:
    """Give `from_id`'s API keys and schedules to `to_id` (an active member), in one
    transaction; answers what moved. The keys then act with the new owner's rights."""
    if not actor.is_admin:
        raise PermissionDenied("Only workspace admins can transfer ownership.")
    if from_id == to_id:
        raise Invalid("Choose another member to take these over.", field="transfer_to")
    moved = owned_by(db, from_id)
    with db.write() as session:
        heir = session.get(Member, to_id)
        if heir is None or not heir.is_active:
            raise Invalid("Choose an active member to take these over.", field="transfer_to")
        session.execute(
            update(ApiKey)
            .where(ApiKey.owner_id == from_id, ApiKey.revoked_at.is_(None))
            .values(owner_id=to_id)
        )
        session.execute(
            update(ImportSchedule).where(ImportSchedule.owner_id == from_id).values(owner_id=to_id)
        )
    return moved


def set_password(db: Database, email: str, password: str) -> None:
    """Replace a member's password and end all their sessions (command line / admin only)."""
    check_password(password)
    with db.write() as session:
        member = _by_email(session, email)
        if member.is_integration:
            raise Invalid(f"{member.email} is an integration: it cannot sign in.")
        member.password_hash = _hasher.hash(password)
        session.execute(delete(MemberSession).where(MemberSession.member_id == member.id))


def change_own_password(
    db: Database, actor: Actor, current: str, new: str, *, keep_token: str | None = None
) -> None:
    """Change the actor's password after checking the current one; every other session of
    theirs ends (the one holding `keep_token` stays). Raises AuthenticationFailed or Invalid."""
    check_password(new)
    with db.write() as session:
        member = session.get(Member, actor.id)
        if not _password_matches(member, current):
            raise AuthenticationFailed("The current password is not correct.")
        assert member is not None
        member.password_hash = _hasher.hash(new)
        others = delete(MemberSession).where(MemberSession.member_id == member.id)
        if keep_token:
            others = others.where(MemberSession.token_hash != _token_hash(keep_token))
        session.execute(others)


def update_member(
    db: Database,
    actor: Actor,
    member_id: uuid.UUID,
    *,
    account_type: AccountType | None = None,
    is_active: bool | None = None,
) -> MemberView:
    """Change a member's account type or deactivate/reactivate them (admins only).

    The last active admin can neither be demoted nor deactivated: the workspace would become
    unmanageable.
    """
    if not actor.is_admin:
        raise PermissionDenied("Only workspace admins can change members.")
    with db.write() as session:
        member = session.get(Member, member_id)
        if member is None:
            raise NotFound("This member does not exist.")
        losing_admin = (
            member.account_type == AccountType.ADMIN
            and member.is_active
            and (account_type is AccountType.MEMBER or is_active is False)
        )
        if losing_admin and _active_admin_count(session) <= 1:
            raise Conflict(f"{member.email} is the last active admin of the workspace.")
        if account_type is AccountType.ADMIN and member.is_integration:
            raise Invalid(f"{member.email} is an integration: it cannot be a workspace admin.")
        if account_type is not None:
            member.account_type = account_type.value
        if is_active is not None:
            member.is_active = is_active
            if not is_active:
                session.execute(delete(MemberSession).where(MemberSession.member_id == member.id))
        session.flush()
        return _view(member)


def set_time_zone(db: Database, actor: Actor, time_zone: str) -> None:
    if time_zone not in available_timezones():
        raise Invalid(f"{time_zone!r} is not an IANA time zone.", field="time_zone")
    with db.write() as session:
        member = session.get(Member, actor.id)
        if member is None:
            raise NotFound("This member does not exist.")
        member.time_zone = time_zone


def list_members(db: Database) -> list[MemberView]:
    with db.read() as session:
        return [_view(m) for m in session.scalars(select(Member).order_by(Member.email))]


def find_member(db: Database, email: str) -> MemberView | None:
    with db.read() as session:
        member = session.scalar(select(Member).where(Member.email == email.strip().lower()))
        return None if member is None else _view(member)


def log_in(
    db: Database,
    email: str,
    password: str,
    *,
    hours: int,
    address: str = "unknown",
    policy: ThrottlePolicy | None = None,
    now: datetime | None = None,
) -> Login:
    """Check the password and start a session of `hours`, for a sign-in from `address` (the
    client's network address) at `now` (default: the clock). Every attempt is recorded and
    logged (see services/sign_ins.py).

    Raises SignInThrottled while sign-ins are locked for this e-mail or address (the password
    is then not checked), else AuthenticationFailed, with the same message whatever was wrong.
    """
    now = now or utc_now()
    typed = (email or "").strip().lower()
    with db.read() as session:
        member = session.scalar(select(Member).where(Member.email == typed))
    reservation = sign_ins.begin(
        db,
        typed,
        address,
        member_id=member.id if member else None,
        now=now,
        policy=policy or ThrottlePolicy(),
    )
    # The password is checked outside any transaction: argon2 takes a while, and SQLite's
    # one writer must not wait for it.
    outcome = _sign_in_outcome(member, password)
    with db.write() as session:
        started = None
        if outcome is Outcome.SUCCESS:
            assert member is not None
            started = _start_session(session, member.id, password, hours=hours, now=now)
            if started is None:  # deactivated while its password was being checked
                outcome = Outcome.DEACTIVATED
        sign_ins.finish(session, reservation, outcome)
    # Raised after the commit: the attempt's outcome must be kept.
    if started is None:
        raise AuthenticationFailed("The e-mail or password is not correct.")
    return started


def _start_session(
    session: Session, member_id: uuid.UUID, password: str, *, hours: int, now: datetime
) -> Login | None:
    """A new session of the member, or None when they are no longer active."""
    member = session.get(Member, member_id)
    if member is None or not member.is_active:
        return None
    if _hasher.check_needs_rehash(member.password_hash):
        member.password_hash = _hasher.hash(password)
    member.last_login_at = now
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        MemberSession(
            token_hash=_token_hash(token),
            member_id=member.id,
            csrf_token=csrf,
            expires_at=utc_now() + timedelta(hours=hours),
        )
    )
    session.execute(delete(MemberSession).where(MemberSession.expires_at < utc_now()))
    return Login(token=token, csrf_token=csrf, actor=_actor(member))


def _sign_in_outcome(member: Member | None, password: str) -> Outcome:
    """How checking `password` against `member` ends. Unknown and deactivated members cost one
    argon2 verification too (against a dummy hash), so the time taken reveals neither."""
    if _password_matches(member, password):
        return Outcome.SUCCESS
    if member is None:
        return Outcome.UNKNOWN_MEMBER
    return Outcome.WRONG_PASSWORD if member.is_active else Outcome.DEACTIVATED


def resolve_session(db: Database, token: str, *, hours: int) -> Login | None:
    """The login behind a cookie token, or None when unknown, expired or the member is inactive.

    Extends the session by `hours` at most once a minute (a sliding expiry without a write per
    request), when the database can be written at once.
    """
    if not token:
        return None
    now = utc_now()
    with db.read() as session:
        row = session.execute(
            select(MemberSession, Member)
            .join(Member, Member.id == MemberSession.member_id)
            .where(MemberSession.token_hash == _token_hash(token))
        ).first()
    if row is None:
        return None
    login_session, member = row
    if login_session.expires_at <= now or not member.is_active:
        return None
    if login_session.expires_at - now < timedelta(hours=hours) - timedelta(minutes=1):
        # Opportunistic: while another writer (an import) has the turn, the renewal waits for
        # a later request rather than making this page wait.
        with db.try_write() as session:
            stored = session.get(MemberSession, login_session.token_hash) if session else None
            if stored is not None:
                stored.expires_at = now + timedelta(hours=hours)
    return Login(token=token, csrf_token=login_session.csrf_token, actor=_actor(member))


def log_out(db: Database, token: str) -> None:
    with db.write() as session:
        session.execute(delete(MemberSession).where(MemberSession.token_hash == _token_hash(token)))


def actor_for(db: Database, email: str) -> Actor:
    """The actor of a member by e-mail (command line use). Raises NotFound."""
    with db.read() as session:
        return _actor(_by_email(session, email))


def _password_matches(member: Member | None, password: str) -> bool:
    try:
        if member is None or not member.is_active or not member.password_hash:
            _hasher.verify(_DUMMY_HASH, password or "-")
            return False
        return _hasher.verify(member.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def _by_email(session: Session, email: str) -> Member:
    member = session.scalar(select(Member).where(Member.email == email.strip().lower()))
    if member is None:
        raise NotFound(f"No member has the e-mail address {email.strip()!r}.")
    return member


def _active_admin_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.account_type == AccountType.ADMIN.value, Member.is_active.is_(True))
        )
        or 0
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _actor(member: Member) -> Actor:
    return Actor(
        id=member.id,
        email=member.email,
        display_name=member.display_name,
        account_type=AccountType(member.account_type),
        time_zone=member.time_zone,
    )


def _view(member: Member) -> MemberView:
    return MemberView(
        id=member.id,
        email=member.email,
        display_name=member.display_name,
        account_type=AccountType(member.account_type),
        is_active=member.is_active,
        time_zone=member.time_zone,
        last_login_at=member.last_login_at,
        is_integration=member.is_integration,
    )


def _integration_address(name: str) -> str:
    slug = "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())
    return f"{slug[:60] or 'integration'}@integrations.invalid"
