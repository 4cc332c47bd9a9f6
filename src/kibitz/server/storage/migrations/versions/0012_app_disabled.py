"""apps can be disabled (banned) by the operator

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite takes it with a default): a batch rebuild of ``apps``
    # would drop the table, and with foreign keys on that cascades into every user row.
    op.add_column(
        "apps", sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("apps", "disabled")
