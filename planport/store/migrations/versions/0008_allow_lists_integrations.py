"""IP allow lists for API keys, integration members, per-address API request counts

Revision ID: 0008
Revises: 0007
Create Date: 2027-02-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ip_allow_list",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_allow_list")),
        sa.UniqueConstraint("name", name=op.f("uq_ip_allow_list_name")),
    )
    op.create_table(
        "api_key_allow_list",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("allow_list_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_api_key_allow_list_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["allow_list_id"],
            ["ip_allow_list.id"],
            name=op.f("fk_api_key_allow_list_allow_list_id_ip_allow_list"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "allow_list_id", name=op.f("pk_api_key_allow_list")),
    )
    with op.batch_alter_table("api_key_allow_list", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_key_allow_list_allow_list_id"), ["allow_list_id"], unique=False
        )
    op.create_table(
        "api_request_window",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", "window_start", name=op.f("pk_api_request_window")),
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_integration", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("is_integration")
    op.drop_table("api_request_window")
    op.drop_table("api_key_allow_list")
    op.drop_table("ip_allow_list")
