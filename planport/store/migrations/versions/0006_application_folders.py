"""application folders: each application's own folder under the import root

Existing applications get the empty folder, the import root itself, so the paths and patterns
of their configurations' folder sources keep naming the same files after the upgrade; their
settings page asks a workspace admin to choose a folder of their own. Applications created
afterwards get a folder of their own (named after them).

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("import_folder", sa.String(length=1000), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_column("import_folder")
