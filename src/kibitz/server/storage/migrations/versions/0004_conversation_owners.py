"""inbox and queues owned by users or conversations: no foreign key to users, wider owner

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A conversation's queue is written once, owned by the conversation's key; the rows of a
    # deleted user are now deleted by the user store. On SQLite batch mode rebuilds the
    # tables (SQLite cannot drop a constraint in place).
    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint("fk_inbox_owner_users", type_="foreignkey")
        batch.alter_column("owner", existing_type=sa.String(36), type_=sa.String(64))
        batch.alter_column(
            "skip_resource",
            existing_type=sa.String(128),
            type_=sa.String(200),
            existing_nullable=True,
        )
    with op.batch_alter_table("queues") as batch:
        batch.drop_constraint("fk_queues_owner_users", type_="foreignkey")
        batch.alter_column("owner", existing_type=sa.String(36), type_=sa.String(64))


def downgrade() -> None:
    # Only users' rows survive the way back (conversations' rows have no user to point to).
    for table in ("inbox", "queues"):
        op.execute(f"DELETE FROM {table} WHERE owner NOT IN (SELECT id FROM users)")
    op.execute("UPDATE inbox SET skip_resource = NULL WHERE length(skip_resource) > 128")
    with op.batch_alter_table("queues") as batch:
        batch.alter_column("owner", existing_type=sa.String(64), type_=sa.String(36))
        batch.create_foreign_key(
            "fk_queues_owner_users", "users", ["owner"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("inbox") as batch:
        batch.alter_column(
            "skip_resource",
            existing_type=sa.String(200),
            type_=sa.String(128),
            existing_nullable=True,
        )
        batch.alter_column("owner", existing_type=sa.String(64), type_=sa.String(36))
        batch.create_foreign_key(
            "fk_inbox_owner_users", "users", ["owner"], ["id"], ondelete="CASCADE"
        )
