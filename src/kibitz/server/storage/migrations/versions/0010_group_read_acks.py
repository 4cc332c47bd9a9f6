"""group read receipts: who read which group message

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_read_acks",
        sa.Column("group_id", sa.String(32)),
        sa.Column("msg_id", sa.BigInteger, autoincrement=False),
        sa.Column("username", sa.String(64)),
        sa.Column("read_ms", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name="fk_group_read_acks_group_id_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "msg_id", "username", name="pk_group_read_acks"),
    )


def downgrade() -> None:
    op.drop_table("group_read_acks")
