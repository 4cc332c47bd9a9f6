"""id_floor: the last message id committed by any node (shared mode)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "id_floor",
        sa.Column("id", sa.Integer, autoincrement=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_id_floor"),
    )
    # The one row, already above every message written before the upgrade.
    op.execute("INSERT INTO id_floor (id, last_id) SELECT 1, COALESCE(MAX(id), 0) FROM messages")


def downgrade() -> None:
    op.drop_table("id_floor")
