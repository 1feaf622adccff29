"""API keys: create, list, edit, revoke, and recognise the key a request presents.

Workspace admins manage keys (the command line too, as the server's operator). A key acts
with its owner's rights: `authenticate` answers who the owner is, and every endpoint then
checks the owner's permission through `access`, at each call, so revoking the owner's Import
Data, deactivating or removing the owner stops the key at once.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from planport.domain.allow_lists import allows
from planport.domain.api_keys import (
    PREFIX_LENGTH,
    ApiKeyType,
    KeyState,
    Rejection,
    expires_at,
    is_well_formed,
    key_hash,
    new_key,
    prefix_of,
    rejection_of,
)
from planport.domain.clock import utc_now
from planport.domain.enums import AccountType
from planport.domain.errors import Invalid, NotFound, PermissionDenied, PlanportError
from planport.domain.members import Actor
from planport.domain.names import clean_name
from planport.services.workspace import allow_lists
from planport.services.workspace.members import _by_email
from planport.store.db import Database
from planport.store.models import ApiKey, Member

# Last use is written at most this often per key and address: a busy integration polling
# its run's status must not turn every read into a write (on SQLite a write waits for the
# database's one write lock).
LAST_USED_EVERY = timedelta(minutes=1)


class KeyRejected(PlanportError):
    """The request's key may not make this call; `rejection` says which rule refused it."""

    def __init__(self, rejection: Rejection, message: str | None = None) -> None:
        super().__init__(message or rejection.message)
        self.rejection = rejection


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    id: uuid.UUID
    name: str
    key_type: ApiKeyType
    prefix: str
    owner_id: uuid.UUID
    owner_email: str
    owner_active: bool
    created_at: datetime
    expires_on: date | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_address: str | None
    allow_lists: tuple[str, ...] = ()  # names; none: the default list, if any, applies

    @property
    def last_valid_day(self) -> date | None:
        """The last day the key works (the day before its expiration date)."""
        return None if self.expires_on is None else self.expires_on - timedelta(days=1)

    def state(self, now: datetime) -> str:
        """`active`, `expired` or `revoked`, as the key list shows it."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A created key: `secret` is the whole key, shown once and never stored."""

    view: ApiKeyView
    secret: str


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What an admin chooses for a new key."""

    name: str
    key_type: ApiKeyType
    owner_email: str | None = None  # default: the admin creating it
    expires_on: date | None = None
    allow_list_ids: tuple[uuid.UUID, ...] = ()  # none: the default list, if any, applies


@dataclass(frozen=True, slots=True)
class KeyChange:
    """What an admin may change of a key: its name, expiration date and allow lists (None:
    leave the lists as they are)."""

    name: str
    expires_on: date | None
    allow_list_ids: tuple[uuid.UUID, ...] | None = None


@dataclass(frozen=True, slots=True)
class KeyCaller:
    """Who calls through a recognised key: the owner's actor, and the key for the record."""

    key_id: uuid.UUID
    key_name: str
    key_type: ApiKeyType
    actor: Actor


def create_key(
    db: Database, spec: KeySpec, *, by: Actor | None, time_zone: str, now: datetime | None = None
) -> NewKey:
    """Create a key (workspace admins; `by` None: the server's command line). Raises
    PermissionDenied, Invalid (name, expiration date in the past), NotFound (owner)."""
    _require_admin(by)
    now = now or utc_now()
    name = clean_name(spec.name, what="API key")
    stops = expires_at(spec.expires_on, time_zone)
    if stops is not None and stops <= now:
        raise Invalid(
            "The expiration date must be after today: a key works until the end of the day "
            "before it.",
            field="expires_on",
        )
    secret = new_key()
    with db.write() as session:
        owner = _owner(session, spec.owner_email, by)
        row = ApiKey(
            name=name,
            key_type=spec.key_type.value,
            prefix=prefix_of(secret),
            key_hash=key_hash(secret),
            owner_id=owner.id,
            created_by=by.id if by is not None else None,
            created_at=now,
            expires_on=spec.expires_on,
            expires_at=stops,
        )
        session.add(row)
        session.flush()
        allow_lists.link_key(session, row.id, spec.allow_list_ids)
        return NewKey(view=_view(session, row, owner), secret=secret)


def list_keys(db: Database, by: Actor | None) -> list[ApiKeyView]:
    """Every key, newest first (workspace admins)."""
    _require_admin(by)
    with db.read() as session:
        rows = session.execute(
            select(ApiKey, Member)
            .join(Member, Member.id == ApiKey.owner_id)
            .order_by(ApiKey.created_at.desc())
        ).all()
        names = allow_lists.key_lists(session, [key.id for key, _ in rows])
        return [_view(session, key, owner, names.get(key.id, [])) for key, owner in rows]


def revoke_key(
    db: Database, reference: str, *, by: Actor | None, now: datetime | None = None
) -> ApiKeyView:
    """Revoke the key with this id or prefix (revoking twice keeps the first time). Raises
    NotFound, or Invalid when a prefix names several keys."""
    _require_admin(by)
    with db.write() as session:
        key = _find(session, reference)
        if key.revoked_at is None:
            key.revoked_at = now or utc_now()
        session.flush()
        return _view(session, key, _member(session, key.owner_id))


def update_key(
    db: Database, key_id: uuid.UUID, change: KeyChange, *, by: Actor | None, time_zone: str
) -> ApiKeyView:
    """Rename a key, change its expiration date (an earlier date may end it at once) and its
    allow lists. A revoked key stays revoked."""
    _require_admin(by)
    clean = clean_name(change.name, what="API key")
    with db.write() as session:
        key = _find(session, str(key_id))
        key.name = clean
        key.expires_on = change.expires_on
        key.expires_at = expires_at(change.expires_on, time_zone)
        if change.allow_list_ids is not None:
            allow_lists.link_key(session, key.id, change.allow_list_ids)
        session.flush()
        return _view(session, key, _member(session, key.owner_id))


def get_key(db: Database, key_id: uuid.UUID, by: Actor | None) -> ApiKeyView:
    """One key (workspace admins). Raises NotFound."""
    _require_admin(by)
    with db.read() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound("This API key does not exist.")
        return _view(session, key, _member(session, key.owner_id))


def authenticate(
    db: Database,
    presented: str | None,
    wanted: ApiKeyType,
    address: str,
    *,
    now: datetime | None = None,
) -> KeyCaller:
    """The caller behind the presented key, for an endpoint of `wanted` keys. Raises
    KeyRejected (401 or 403, see `Rejection`). The owner's permission in an application is
    the endpoint's to check."""
    with reading_as_key(db, presented, wanted, address, now=now) as (caller, _session):
        return caller


@contextmanager
def reading_as_key(
    db: Database,
    presented: str | None,
    wanted: ApiKeyType,
    address: str,
    *,
    now: datetime | None = None,
) -> Iterator[tuple[KeyCaller, Session]]:
    """`authenticate`, then the same read session for the endpoint's own reads: a source
    system polling a run's status pays one transaction, not two, and the owner and key are
    already in the session's identity map when the endpoint checks them again."""
    now = now or utc_now()
    if not presented:
        raise KeyRejected(Rejection.MISSING)
    digest = key_hash(presented)  # before the shape test: every presented key costs one hash
    if not is_well_formed(presented):
        raise KeyRejected(Rejection.MALFORMED)
    recognised: tuple[KeyCaller, bool] | None = None
    try:
        with db.read() as session:
            recognised = _recognised(session, digest, wanted, address, now)
            yield recognised[0], session
    finally:
        # A use is a use even when the endpoint then refuses (an unknown run: 404).
        if recognised is not None and recognised[1]:
            _record_use(db, recognised[0].key_id, address, now)


def _recognised(
    session: Session, digest: str, wanted: ApiKeyType, address: str, now: datetime
) -> tuple[KeyCaller, bool]:
    """The caller of the key whose hash is `digest`, and whether its last use is to be
    written. Two statements: the key with its owner, then the allow lists it must pass."""
    # The look-up is by the hash (an index equality): its time says nothing about how close
    # a guess came; compare_digest guards the final comparison the same way.
    key = session.execute(_KEY_WITH_OWNER, {"digest": digest}).first()
    if key is not None and not hmac.compare_digest(key.key_hash, digest):
        key = None
    state = (
        None if key is None else KeyState(ApiKeyType(key.key_type), key.expires_at, key.revoked_at)
    )
    refused = rejection_of(state, wanted, now)
    if refused is not None:
        raise KeyRejected(refused)
    assert key is not None
    if key.owner_id is None or not key.is_active:
        raise KeyRejected(Rejection.OWNER_INACTIVE)
    if not allows(allow_lists.addresses_for(session, key.id), address):
        raise KeyRejected(Rejection.ADDRESS_NOT_ALLOWED)
    owner = Actor(
        id=key.owner_id,
        email=key.email,
        display_name=key.display_name,
        account_type=AccountType(key.account_type),
        time_zone=key.time_zone,
    )
    caller = KeyCaller(key.id, key.name, ApiKeyType(key.key_type), owner)
    stale = key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY
    return caller, stale or key.last_used_address != address


# Built once: a source system polling its run's status authenticates every second, and
# building the statement cost more than sending it.
_KEY_WITH_OWNER = (
    select(
        ApiKey.id,
        ApiKey.name,
        ApiKey.key_type,
        ApiKey.key_hash,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
        ApiKey.last_used_address,
        Member.id.label("owner_id"),
        Member.email,
        Member.display_name,
        Member.account_type,
        Member.time_zone,
        Member.is_active,
    )
    .outerjoin(Member, Member.id == ApiKey.owner_id)
    .where(ApiKey.key_hash == bindparam("digest"))
)


def _record_use(db: Database, key_id: uuid.UUID, address: str, now: datetime) -> None:
    """Write the key's last use. Conditional, so that concurrent calls write it once."""
    with db.write() as session:
        session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at <= now - LAST_USED_EVERY,
                    ApiKey.last_used_address.is_distinct_from(address),
                ),
            )
            .values(last_used_at=now, last_used_address=address[:64])
        )


def _require_admin(by: Actor | None) -> None:
    if by is not None and not by.is_admin:
        raise PermissionDenied("Only workspace admins can manage API keys.")


def _owner(session: Session, email: str | None, by: Actor | None) -> Member:
    if email:
        owner = _by_email(session, email)
    elif by is not None:
        owner = _member(session, by.id)
    else:
        raise Invalid("Say which member owns the key (its rights are the key's).", field="owner")
    if not owner.is_active:
        raise Invalid(
            f"{owner.email} is deactivated: a key owned by them could not be used.",
            field="owner",
        )
    return owner


def _member(session: Session, member_id: uuid.UUID) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound("This member does not exist.")
    return member


def _find(session: Session, reference: str) -> ApiKey:
    """The key with this id, or the only key with this prefix."""
    text = reference.strip()
    try:
        key = session.get(ApiKey, uuid.UUID(text))
    except ValueError:
        key = None
    if key is not None:
        return key
    matches = session.scalars(select(ApiKey).where(ApiKey.prefix == text[:PREFIX_LENGTH])).all()
    if len(text) < PREFIX_LENGTH or not matches:
        raise NotFound(f"No API key has the ID or prefix {text[:40]!r}.")
    if len(matches) > 1:
        raise Invalid(f"Several API keys start with {text!r}: give the key's ID instead.")
    return matches[0]


def _view(
    session: Session, key: ApiKey, owner: Member, list_names: Sequence[str] | None = None
) -> ApiKeyView:
    if list_names is None:
        list_names = allow_lists.key_lists(session, [key.id]).get(key.id, [])
    return ApiKeyView(
        id=key.id,
        name=key.name,
        key_type=ApiKeyType(key.key_type),
        prefix=key.prefix,
        owner_id=owner.id,
        owner_email=owner.email,
        owner_active=owner.is_active,
        created_at=key.created_at,
        expires_on=key.expires_on,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        last_used_address=key.last_used_address,
        allow_lists=tuple(list_names),
    )
