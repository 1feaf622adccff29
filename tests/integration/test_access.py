"""Access: who may do what in which application, through application roles."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from planport.domain.enums import Permission
from planport.domain.errors import Conflict, NotFound, PermissionDenied
from planport.domain.members import DEFAULT_ROLES, Actor
from planport.services.blocks import applications
from planport.services.blocks.applications import ApplicationView
from planport.services.workspace import access, members
from planport.store.db import Database
from tests.integration.builders import role_id

P = Permission
EXPECTED = {
    "Admin": set(Permission),
    "Modeler": set(Permission) - {P.MANAGE_APPLICATION},
    "Contributor": {P.READ, P.WRITE, P.IMPORT_DATA, P.VIEW_HISTORY},
    "Reader": {P.READ},
}


def allowed(db: Database, actor: Actor, application_id: uuid.UUID) -> set[Permission]:
    return {p for p in Permission if access.may(db, actor, p, application_id)}


def test_a_new_application_has_the_four_default_roles_in_order(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    roles = access.list_roles(db, admin, app.id)
    assert [r.name for r in roles] == [d.name for d in DEFAULT_ROLES]
    assert all(r.is_default for r in roles)
    assert {r.name: set(r.permissions) for r in roles} == EXPECTED


def test_a_workspace_admin_may_do_everything(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    assert allowed(db, admin, app.id) == set(Permission)


def test_a_member_without_a_role_may_do_nothing(
    db: Database, member: Actor, app: ApplicationView
) -> None:
    assert allowed(db, member, app.id) == set()


@pytest.mark.parametrize("role", list(EXPECTED))
def test_a_member_may_do_exactly_what_their_role_allows_and_is_refused_the_rest_by_label(
    db: Database, app: ApplicationView, member_as: Callable[[str], Actor], role: str
) -> None:
    actor = member_as(role)
    assert allowed(db, actor, app.id) == EXPECTED[role]
    with db.read() as session:
        for permission in Permission:
            if permission in EXPECTED[role]:
                assert access.require(session, actor, permission, app.id).id == app.id
                continue
            with pytest.raises(PermissionDenied) as raised:
                access.require(session, actor, permission, app.id)
            assert f"the {permission.label} permission" in raised.value.message
            assert "'Budget 2025'" in raised.value.message


def test_require_of_an_unknown_application_is_not_found(db: Database, admin: Actor) -> None:
    with db.read() as session, pytest.raises(NotFound):
        access.require(session, admin, Permission.READ, uuid.uuid4())


def test_a_role_in_one_application_gives_nothing_in_another(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Admin")
    other = applications.create_application(db, admin, "Forecast")
    assert allowed(db, actor, app.id) == set(Permission)
    assert allowed(db, actor, other.id) == set()


def test_granting_access_again_replaces_the_role(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Modeler")
    member_as("Reader")
    assert allowed(db, actor, app.id) == {P.READ}
    assert [(a.email, a.role_name) for a in access.list_access(db, admin, app.id)] == [
        ("admin@example.com", "Admin"),
        ("member@example.com", "Reader"),
    ]


def test_revoking_access_takes_every_permission_away(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Contributor")
    access.revoke_access(db, admin, app.id, actor.id)
    assert allowed(db, actor, app.id) == set()
    assert [a.email for a in access.list_access(db, admin, app.id)] == ["admin@example.com"]


def test_revoking_access_a_member_does_not_have_is_not_found(
    db: Database, admin: Actor, app: ApplicationView, member: Actor
) -> None:
    with pytest.raises(NotFound, match="no role"):
        access.revoke_access(db, admin, app.id, member.id)


def test_granting_access_to_an_unknown_email_is_not_found(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    with pytest.raises(NotFound, match=r"nobody@example\.com"):
        access.grant_access(
            db, admin, app.id, "nobody@example.com", role_id(db, admin, app.id, "Reader")
        )


def test_a_role_of_another_application_cannot_be_granted(
    db: Database, admin: Actor, app: ApplicationView, member: Actor
) -> None:
    other = applications.create_application(db, admin, "Forecast")
    foreign_role = role_id(db, admin, other.id, "Admin")
    with pytest.raises(NotFound):
        access.grant_access(db, admin, app.id, member.email, foreign_role)
    assert allowed(db, member, app.id) == set()


def test_only_holders_of_manage_application_grant_access(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    member_as: Callable[[str], Actor],
    new_member: Callable[[str], Actor],
) -> None:
    other = new_member("other@example.com")
    reader = role_id(db, admin, app.id, "Reader")
    for role in ("Modeler", "Contributor", "Reader"):
        actor = member_as(role)
        with pytest.raises(PermissionDenied, match="Manage Application"):
            access.grant_access(db, actor, app.id, other.email, reader)
    assert allowed(db, other, app.id) == set()


def test_an_application_admin_who_is_a_plain_member_grants_access(
    db: Database,
    app: ApplicationView,
    member_as: Callable[[str], Actor],
    new_member: Callable[[str], Actor],
    admin: Actor,
) -> None:
    actor = member_as("Admin")
    other = new_member("other@example.com")
    access.grant_access(db, actor, app.id, other.email, role_id(db, admin, app.id, "Reader"))
    assert allowed(db, other, app.id) == {P.READ}


def test_changing_a_roles_permissions_changes_what_its_holders_may_do(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Reader")
    reader = role_id(db, admin, app.id, "Reader")
    changed = access.set_role_permissions(db, admin, app.id, reader, {P.READ, P.IMPORT_DATA})
    assert changed.permissions == {P.READ, P.IMPORT_DATA}
    assert allowed(db, actor, app.id) == {P.READ, P.IMPORT_DATA}
    access.set_role_permissions(db, admin, app.id, reader, set())
    assert allowed(db, actor, app.id) == set()


def test_the_admin_role_cannot_lose_any_permission(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Admin")
    admin_role = role_id(db, admin, app.id, "Admin")
    with pytest.raises(Conflict, match="Admin role always holds every permission"):
        access.set_role_permissions(
            db, admin, app.id, admin_role, set(Permission) - {P.MANAGE_APPLICATION}
        )
    assert allowed(db, actor, app.id) == set(Permission)


def test_only_holders_of_manage_application_change_role_permissions(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Modeler")
    reader = role_id(db, admin, app.id, "Reader")
    with pytest.raises(PermissionDenied, match="Manage Application"):
        access.set_role_permissions(db, actor, app.id, reader, set(Permission))
    assert {r.name: set(r.permissions) for r in access.list_roles(db, admin, app.id)} == EXPECTED


def test_a_custom_role_can_be_created_and_granted(
    db: Database, admin: Actor, app: ApplicationView, member: Actor
) -> None:
    role = access.create_role(db, admin, app.id, "Importer", {P.READ, P.IMPORT_DATA})
    assert not role.is_default
    access.grant_access(db, admin, app.id, member.email, role.id)
    assert allowed(db, member, app.id) == {P.READ, P.IMPORT_DATA}
    assert [r.name for r in access.list_roles(db, admin, app.id)][-1] == "Importer"


def test_a_role_name_already_taken_is_a_conflict_whatever_its_case(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    with pytest.raises(Conflict) as raised:
        access.create_role(db, admin, app.id, "reader", {P.READ})
    assert raised.value.field == "name"
    assert len(access.list_roles(db, admin, app.id)) == len(DEFAULT_ROLES)


def test_a_deactivated_member_may_do_nothing_whatever_their_role(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Admin")
    members.update_member(db, admin, actor.id, is_active=False)
    assert allowed(db, actor, app.id) == set()
