"""scheduling: schedules and their fires, the run queue, alert messages, process leases

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_lease",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_process_lease")),
    )
    op.create_table(
        "import_schedule",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("configuration_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("start_local", sa.String(length=16), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("repeat", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("alerts_enabled", sa.Boolean(), nullable=False),
        sa.Column("alert_recipients", sa.Text(), nullable=False),
        sa.Column("pause_after_failures", sa.Integer(), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_import_schedule_application_id_application"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["configuration_id"],
            ["import_configuration.id"],
            name=op.f("fk_import_schedule_configuration_id_import_configuration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["member.id"],
            name=op.f("fk_import_schedule_owner_id_member"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_schedule")),
    )
    with op.batch_alter_table("import_schedule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_schedule_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_import_schedule_configuration_id"), ["configuration_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_import_schedule_next_fire_at"), ["next_fire_at"], unique=False
        )

    op.create_table(
        "alert_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=True),
        sa.Column("configuration_id", sa.Uuid(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_alert_message_application_id_application"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["configuration_id"],
            ["import_configuration.id"],
            name=op.f("fk_alert_message_configuration_id_import_configuration"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_run.id"],
            name=op.f("fk_alert_message_run_id_import_run"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_message")),
    )
    with op.batch_alter_table("alert_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_message_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_alert_message_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alert_message_run_id"), ["run_id"], unique=False)

    op.create_table(
        "schedule_fire",
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("configuration_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["configuration_id"],
            ["import_configuration.id"],
            name=op.f("fk_schedule_fire_configuration_id_import_configuration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_run.id"],
            name=op.f("fk_schedule_fire_run_id_import_run"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["import_schedule.id"],
            name=op.f("fk_schedule_fire_schedule_id_import_schedule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "scheduled_for", name=op.f("pk_schedule_fire")),
    )
    with op.batch_alter_table("schedule_fire", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_fire_configuration_id"), ["configuration_id"], unique=False
        )

    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_webhook_encrypted", sa.Text(), nullable=True))

    with op.batch_alter_table("import_configuration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_run_status", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_alert_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("retry_of", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("rows_done", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_import_run_schedule_id"), ["schedule_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_import_run_schedule_id_import_schedule"),
            "import_schedule",
            ["schedule_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_import_run_schedule_id_import_schedule"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_import_run_schedule_id"))
        batch_op.drop_column("rows_done")
        batch_op.drop_column("retry_of")
        batch_op.drop_column("cancel_requested")
        batch_op.drop_column("not_before")
        batch_op.drop_column("source")

    with op.batch_alter_table("import_configuration", schema=None) as batch_op:
        batch_op.drop_column("last_alert_at")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("consecutive_failures")
        batch_op.drop_column("last_run_status")

    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_column("alert_webhook_encrypted")

    with op.batch_alter_table("schedule_fire", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_fire_configuration_id"))

    op.drop_table("schedule_fire")
    with op.batch_alter_table("alert_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_message_run_id"))
        batch_op.drop_index(batch_op.f("ix_alert_message_created_at"))
        batch_op.drop_index(batch_op.f("ix_alert_message_application_id"))

    op.drop_table("alert_message")
    with op.batch_alter_table("import_schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_schedule_next_fire_at"))
        batch_op.drop_index(batch_op.f("ix_import_schedule_configuration_id"))
        batch_op.drop_index(batch_op.f("ix_import_schedule_application_id"))

    op.drop_table("import_schedule")
    op.drop_table("process_lease")
