"""foundation: members, applications, roles, blocks

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "member",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("account_type", sa.String(length=20), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member")),
        sa.UniqueConstraint("email", name=op.f("uq_member_email")),
    )
    op.create_table(
        "application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["member.id"],
            name=op.f("fk_application_created_by_member"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
        sa.UniqueConstraint("name_key", name=op.f("uq_application_name_key")),
    )
    op.create_table(
        "member_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_member_session_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_member_session")),
    )
    with op.batch_alter_table("member_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_session_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_member_session_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "block",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("value_type", sa.String(length=20), nullable=True),
        sa.Column("unique_property_id", sa.Uuid(), nullable=True),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("next_column", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_block_application_id_application"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_block")),
        sa.UniqueConstraint("application_id", "name_key", name=op.f("uq_block_application_id")),
        sa.UniqueConstraint("table_name", name=op.f("uq_block_table_name")),
    )
    with op.batch_alter_table("block", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_block_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "role",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_role_application_id_application"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role")),
        sa.UniqueConstraint("application_id", "name_key", name=op.f("uq_role_application_id")),
    )
    op.create_table(
        "application_member",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_application_member_application_id_application"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_application_member_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["role.id"],
            name=op.f("fk_application_member_role_id_role"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("application_id", "member_id", name=op.f("pk_application_member")),
    )
    with op.batch_alter_table("application_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_member_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "block_property",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("block_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("column_name", sa.String(length=63), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("referenced_block_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["block.id"],
            name=op.f("fk_block_property_block_id_block"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referenced_block_id"],
            ["block.id"],
            name=op.f("fk_block_property_referenced_block_id_block"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_block_property")),
        sa.UniqueConstraint("block_id", "name_key", name=op.f("uq_block_property_block_id")),
    )
    with op.batch_alter_table("block_property", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_block_property_referenced_block_id"),
            ["referenced_block_id"],
            unique=False,
        )

    op.create_table(
        "metric_dimension",
        sa.Column("metric_id", sa.Uuid(), nullable=False),
        sa.Column("dimension_list_id", sa.Uuid(), nullable=False),
        sa.Column("column_name", sa.String(length=63), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dimension_list_id"],
            ["block.id"],
            name=op.f("fk_metric_dimension_dimension_list_id_block"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["block.id"],
            name=op.f("fk_metric_dimension_metric_id_block"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("metric_id", "dimension_list_id", name=op.f("pk_metric_dimension")),
    )
    with op.batch_alter_table("metric_dimension", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_metric_dimension_dimension_list_id"), ["dimension_list_id"], unique=False
        )

    op.create_table(
        "role_permission",
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("permission", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["role.id"],
            name=op.f("fk_role_permission_role_id_role"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_id", "permission", name=op.f("pk_role_permission")),
    )


def downgrade() -> None:

    op.drop_table("role_permission")
    with op.batch_alter_table("metric_dimension", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_dimension_dimension_list_id"))

    op.drop_table("metric_dimension")
    with op.batch_alter_table("block_property", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_block_property_referenced_block_id"))

    op.drop_table("block_property")
    with op.batch_alter_table("application_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_member_member_id"))

    op.drop_table("application_member")
    op.drop_table("role")
    with op.batch_alter_table("block", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_block_application_id"))

    op.drop_table("block")
    with op.batch_alter_table("member_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_session_member_id"))
        batch_op.drop_index(batch_op.f("ix_member_session_expires_at"))

    op.drop_table("member_session")
    op.drop_table("application")
    op.drop_table("member")
