"""Applications: create, rename, list and delete (with their blocks' tables)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from planport.domain.enums import BlockKind, Permission, PropertyType, ValueType
from planport.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications, items
from planport.services.blocks.applications import ApplicationView
from planport.store.db import Database
from tests.integration.builders import grant, table_names


def test_an_admin_creates_an_application_and_holds_its_admin_role(
    db: Database, admin: Actor
) -> None:
    created = applications.create_application(db, admin, "  Budget   2025 ", " Yearly plan ")
    assert (created.name, created.description, created.block_count) == (
        "Budget 2025",
        "Yearly plan",
        0,
    )
    assert created.permissions == frozenset(Permission)
    assert applications.get_application(db, admin, created.id) == created


def test_a_member_cannot_create_an_application(db: Database, member: Actor) -> None:
    with pytest.raises(PermissionDenied, match="workspace admins"):
        applications.create_application(db, member, "Shadow budget")


def test_a_duplicate_application_name_is_refused_whatever_its_case(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    for duplicate in ("Budget 2025", "budget 2025", "BUDGET  2025", "Ｂudget 2025"):
        with pytest.raises(Conflict, match="already exists") as raised:
            applications.create_application(db, admin, duplicate)
        assert raised.value.field == "name"
    assert [a.name for a in applications.list_applications(db, admin)] == ["Budget 2025"]


def test_an_empty_application_name_is_refused(db: Database, admin: Actor) -> None:
    with pytest.raises(Invalid) as raised:
        applications.create_application(db, admin, "   ")
    assert raised.value.field == "name"


def test_an_application_can_be_renamed(db: Database, admin: Actor, app: ApplicationView) -> None:
    renamed = applications.rename_application(db, admin, app.id, "Budget 2026", "Next year")
    assert (renamed.name, renamed.description) == ("Budget 2026", "Next year")
    assert applications.get_application(db, admin, app.id).name == "Budget 2026"


def test_an_application_can_be_renamed_to_another_case_of_its_own_name(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    assert applications.rename_application(db, admin, app.id, "BUDGET 2025").name == "BUDGET 2025"


def test_renaming_to_the_name_of_another_application_is_a_conflict(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    other = applications.create_application(db, admin, "Forecast")
    with pytest.raises(Conflict):
        applications.rename_application(db, admin, other.id, "budget 2025")
    assert applications.get_application(db, admin, other.id).name == "Forecast"


def test_a_modeler_cannot_rename_the_application(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Modeler")
    with pytest.raises(PermissionDenied, match="Manage Application"):
        applications.rename_application(db, actor, app.id, "Mine now")
    assert applications.get_application(db, admin, app.id).name == "Budget 2025"


def test_an_empty_application_is_deleted_without_confirmation(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    applications.delete_application(db, admin, app.id)
    assert applications.list_applications(db, admin) == []
    with pytest.raises(NotFound):
        applications.get_application(db, admin, app.id)


def test_an_application_with_members_is_deleted_and_their_access_goes_with_it(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Contributor")
    applications.delete_application(db, admin, app.id)
    assert applications.list_applications(db, actor) == []
    assert applications.list_applications(db, admin) == []


def test_deleting_an_application_with_blocks_needs_its_name_typed(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    for wrong in (None, "", "budget 2025", "Forecast"):
        with pytest.raises(Conflict, match="1 block") as raised:
            applications.delete_application(db, admin, app.id, confirm_name=wrong)
        assert raised.value.field == "confirm_name"
    assert country.table_name in table_names(db)
    assert applications.get_application(db, admin, app.id).block_count == 1


def test_deleting_an_application_drops_every_block_table(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    month = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Month")
    sales = blocks.create_list(db, admin, app.id, BlockKind.TRANSACTION_LIST, "Sales")
    blocks.add_property(
        db, admin, sales.id, "Country", PropertyType.DIMENSION, referenced_list_id=country.id
    )
    revenue = blocks.create_metric(
        db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id, month.id]
    )
    items.write_items(db, admin, country.id, [{"Code": "FR"}])
    items.write_items(db, admin, month.id, [{"Code": "2025-01"}])
    items.set_cells(db, admin, revenue.id, [{"Country": "FR", "Month": "2025-01", "Value": "9"}])
    tables = {country.table_name, month.table_name, sales.table_name, revenue.table_name}
    assert tables <= table_names(db)

    applications.delete_application(db, admin, app.id, confirm_name=" Budget 2025 ")

    assert not tables & table_names(db)
    assert applications.list_applications(db, admin) == []
    assert not any(t.startswith("block_data_") for t in table_names(db))


def test_deleting_one_application_leaves_the_others_blocks_alone(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    other = applications.create_application(db, admin, "Forecast")
    kept = blocks.create_list(db, admin, other.id, BlockKind.DIMENSION_LIST, "Country")
    blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    applications.delete_application(db, admin, app.id, confirm_name="Budget 2025")
    assert kept.table_name in table_names(db)
    assert [b.name for b in blocks.list_blocks(db, admin, other.id)] == ["Country"]


def test_a_modeler_cannot_delete_the_application(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Modeler")
    with pytest.raises(PermissionDenied):
        applications.delete_application(db, actor, app.id, confirm_name="Budget 2025")
    assert applications.get_application(db, admin, app.id).name == "Budget 2025"


def test_a_member_lists_only_the_applications_they_hold_a_role_in(
    db: Database, admin: Actor, member: Actor
) -> None:
    alpha = applications.create_application(db, admin, "Alpha")
    applications.create_application(db, admin, "Beta")
    gamma = applications.create_application(db, admin, "gamma")
    assert applications.list_applications(db, member) == []
    grant(db, admin, gamma.id, member.email, "Reader")
    grant(db, admin, alpha.id, member.email, "Contributor")
    listed = applications.list_applications(db, member)
    assert [a.name for a in listed] == ["Alpha", "gamma"]
    assert listed[0].can(Permission.WRITE)
    assert not listed[1].can(Permission.WRITE)
    assert [a.name for a in applications.list_applications(db, admin)] == [
        "Alpha",
        "Beta",
        "gamma",
    ]


def test_a_member_without_a_role_is_not_told_the_application_exists(
    db: Database, app: ApplicationView, member: Actor
) -> None:
    with pytest.raises(NotFound) as refused:
        applications.get_application(db, member, app.id)
    assert app.name not in refused.value.message


def test_opening_an_unknown_application_is_not_found(db: Database, admin: Actor) -> None:
    with pytest.raises(NotFound):
        applications.get_application(db, admin, uuid.uuid4())
