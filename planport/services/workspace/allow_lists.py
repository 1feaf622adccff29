"""IP allow lists (workspace admins): named address ranges that API keys may be used from.

A key linked to lists allows their union; a key linked to none follows the default list when
there is one, and allows every address when there is none (see domain/allow_lists.py).
`addresses_for` is what authentication asks at each call.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from planport.domain.allow_lists import Entries, entries_from_text, parse_entries
from planport.domain.clock import utc_now
from planport.domain.errors import Conflict, NotFound, PermissionDenied
from planport.domain.members import Actor
from planport.domain.names import clean_name
from planport.store.db import Database
from planport.store.models import ApiKeyAllowList, IpAllowList


@dataclass(frozen=True, slots=True)
class AllowListSpec:
    """What an admin types for a list: `entries` as typed (parsed and checked here)."""

    name: str
    entries: str
    description: str = ""
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class AllowListView:
    id: uuid.UUID
    name: str
    description: str
    entries: Entries
    is_default: bool
    key_count: int  # keys linked to it
    created_at: datetime


def list_lists(db: Database, by: Actor | None) -> list[AllowListView]:
    """Every allow list, by name (workspace admins)."""
    _require_admin(by)
    with db.read() as session:
        counts = dict(
            session.execute(
                select(ApiKeyAllowList.allow_list_id, func.count()).group_by(
                    ApiKeyAllowList.allow_list_id
                )
            ).all()
        )
        rows = session.scalars(select(IpAllowList).order_by(IpAllowList.name)).all()
        return [_view(row, counts.get(row.id, 0)) for row in rows]


def create_list(db: Database, spec: AllowListSpec, *, by: Actor | None) -> AllowListView:
    """Raises Invalid (name, an entry, naming its line) or Conflict (name taken)."""
    _require_admin(by)
    name, entries = _checked(spec)
    with db.write() as session:
        _name_free(session, name, None)
        if spec.is_default:
            _clear_default(session)
        row = IpAllowList(
            name=name,
            description=spec.description.strip()[:2000],
            entries=entries.text,
            is_default=spec.is_default,
            created_at=utc_now(),
        )
        session.add(row)
        session.flush()
        return _view(row, 0)


def update_list(
    db: Database, list_id: uuid.UUID, spec: AllowListSpec, *, by: Actor | None
) -> AllowListView:
    """Replace a list's name, description, entries and default flag; its keys stay linked."""
    _require_admin(by)
    name, entries = _checked(spec)
    with db.write() as session:
        row = _list(session, list_id)
        _name_free(session, name, row.id)
        if spec.is_default and not row.is_default:
            _clear_default(session)
        row.name = name
        row.description = spec.description.strip()[:2000]
        row.entries = entries.text
        row.is_default = spec.is_default
        session.flush()
        return _view(row, _key_count(session, row.id))


def delete_list(db: Database, list_id: uuid.UUID, *, by: Actor | None) -> str:
    """Delete a list (its links go with it: a key linked only to it then follows the default
    list, or allows every address). Returns its name."""
    _require_admin(by)
    with db.write() as session:
        row = _list(session, list_id)
        name = row.name
        session.execute(delete(ApiKeyAllowList).where(ApiKeyAllowList.allow_list_id == row.id))
        session.delete(row)
        return name


def addresses_for(session: Session, key_id: uuid.UUID) -> list[Entries]:
    """The lists a request with this key must pass: the key's own, else the default, else none
    (every address). One query, at each call."""
    rows = session.execute(_LISTS_OF_KEY, {"key_id": key_id}).all()
    own = [entries for entries, _, linked in rows if linked is not None]
    chosen = own or [entries for entries, is_default, _ in rows if is_default]
    return [entries_from_text(text) for text in chosen]


# Built once: it runs on every keyed API request.
_LISTS_OF_KEY = (
    select(IpAllowList.entries, IpAllowList.is_default, ApiKeyAllowList.api_key_id)
    .outerjoin(
        ApiKeyAllowList,
        (ApiKeyAllowList.allow_list_id == IpAllowList.id)
        & (ApiKeyAllowList.api_key_id == bindparam("key_id")),
    )
    .where(or_(ApiKeyAllowList.api_key_id.is_not(None), IpAllowList.is_default.is_(True)))
)


def link_key(session: Session, key_id: uuid.UUID, list_ids: Sequence[uuid.UUID]) -> None:
    """Make `list_ids` the key's lists (none: the default list applies). Raises NotFound for
    a list that does not exist."""
    wanted = set(list_ids)
    if wanted:
        known = set(session.scalars(select(IpAllowList.id).where(IpAllowList.id.in_(wanted))))
        if known != wanted:
            raise NotFound("One of the chosen IP allow lists no longer exists.")
    session.execute(delete(ApiKeyAllowList).where(ApiKeyAllowList.api_key_id == key_id))
    session.add_all(ApiKeyAllowList(api_key_id=key_id, allow_list_id=i) for i in sorted(wanted))


def key_lists(session: Session, key_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The names of each key's lists, for the key list."""
    found: dict[uuid.UUID, list[str]] = {}
    if not key_ids:
        return found
    rows = session.execute(
        select(ApiKeyAllowList.api_key_id, IpAllowList.name)
        .join(IpAllowList, IpAllowList.id == ApiKeyAllowList.allow_list_id)
        .where(ApiKeyAllowList.api_key_id.in_(key_ids))
        .order_by(IpAllowList.name)
    ).all()
    for key_id, name in rows:
        found.setdefault(key_id, []).append(name)
    return found


def _checked(spec: AllowListSpec) -> tuple[str, Entries]:
    return clean_name(spec.name, what="allow list"), parse_entries(spec.entries)


def _name_free(session: Session, name: str, own_id: uuid.UUID | None) -> None:
    same_name = func.lower(IpAllowList.name) == name.lower()
    taken = session.scalar(select(IpAllowList.id).where(same_name))
    if taken is not None and taken != own_id:
        raise Conflict(f"An IP allow list is already named {name!r}.", field="name")


def _clear_default(session: Session) -> None:
    """Only one list is the default: choosing a new one unsets the old, in one transaction."""
    session.execute(
        update(IpAllowList).where(IpAllowList.is_default.is_(True)).values(is_default=False)
    )


def _list(session: Session, list_id: uuid.UUID) -> IpAllowList:
    row = session.get(IpAllowList, list_id)
    if row is None:
        raise NotFound("This IP allow list does not exist.")
    return row


def _key_count(session: Session, list_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(ApiKeyAllowList)
            .where(ApiKeyAllowList.allow_list_id == list_id)
        )
        or 0
    )


def _require_admin(by: Actor | None) -> None:
    if by is not None and not by.is_admin:
        raise PermissionDenied("Only workspace admins can manage IP allow lists.")


def _view(row: IpAllowList, key_count: int) -> AllowListView:
    return AllowListView(
        id=row.id,
        name=row.name,
        description=row.description,
        entries=entries_from_text(row.entries),
        is_default=row.is_default,
        key_count=key_count,
        created_at=row.created_at,
    )
