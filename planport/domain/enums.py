"""The closed sets of Planport's vocabulary (DESIGN.md)."""

from __future__ import annotations

from enum import StrEnum


class AccountType(StrEnum):
    """A member's workspace-level account type."""

    ADMIN = "admin"
    MEMBER = "member"


class Permission(StrEnum):
    """What an application role allows its holders to do in one application."""

    READ = "read"
    WRITE = "write"
    IMPORT_DATA = "import_data"
    DELETE_ITEM = "delete_item"
    CONFIGURE_BLOCKS = "configure_blocks"
    VIEW_HISTORY = "view_history"
    MANAGE_APPLICATION = "manage_application"

    @property
    def label(self) -> str:
        return _PERMISSION_LABELS[self]


_PERMISSION_LABELS = {
    Permission.READ: "Read",
    Permission.WRITE: "Write",
    Permission.IMPORT_DATA: "Import Data",
    Permission.DELETE_ITEM: "Delete Item",
    Permission.CONFIGURE_BLOCKS: "Configure Blocks",
    Permission.VIEW_HISTORY: "View History",
    Permission.MANAGE_APPLICATION: "Manage Application",
}


class BlockKind(StrEnum):
    DIMENSION_LIST = "dimension_list"
    TRANSACTION_LIST = "transaction_list"
    METRIC = "metric"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()

    @property
    def is_list(self) -> bool:
        return self is not BlockKind.METRIC


class PropertyType(StrEnum):
    """The type of a List property. `dimension` references another Dimension List's items."""

    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    DATE = "date"
    BOOLEAN = "boolean"
    DIMENSION = "dimension"

    @property
    def label(self) -> str:
        return self.value.title()


class ValueType(StrEnum):
    """The type of a Metric's values."""

    NUMBER = "number"
    INTEGER = "integer"
    TEXT = "text"
    DATE = "date"
    BOOLEAN = "boolean"

    @property
    def label(self) -> str:
        return self.value.title()

    @property
    def as_property_type(self) -> PropertyType:
        return PropertyType(self.value)


class OnReferenced(StrEnum):
    """What happens to references when a referenced item (or list) is removed."""

    REFUSE = "refuse"
    CASCADE = "cascade"
