"""Who is acting: the member behind a request, a command or (later) a schedule."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from planport.domain.enums import AccountType, Permission


@dataclass(frozen=True, slots=True)
class Actor:
    id: uuid.UUID
    email: str
    display_name: str
    account_type: AccountType
    time_zone: str = "UTC"

    @property
    def is_admin(self) -> bool:
        return self.account_type is AccountType.ADMIN


@dataclass(frozen=True, slots=True)
class DefaultRole:
    name: str
    permissions: frozenset[Permission]


_ALL = frozenset(Permission)

# Pigment's default application roles. Seeded into every new application; editable later.
DEFAULT_ROLES: tuple[DefaultRole, ...] = (
    DefaultRole("Admin", _ALL),
    DefaultRole("Modeler", _ALL - {Permission.MANAGE_APPLICATION}),
    DefaultRole(
        "Contributor",
        frozenset(
            {Permission.READ, Permission.WRITE, Permission.IMPORT_DATA, Permission.VIEW_HISTORY}
        ),
    ),
    DefaultRole("Reader", frozenset({Permission.READ})),
)
