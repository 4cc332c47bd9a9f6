"""app-wide mutes of users

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_mutes",
        sa.Column("user_id", sa.String(36)),
        sa.Column("app_pk", sa.String(36), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("chat_until", sa.BigInteger, nullable=False),
        sa.Column("groupchat_until", sa.BigInteger, nullable=False),
        sa.Column("chatroom_until", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_mutes_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_mutes"),
    )
    op.create_index("ix_user_mutes_app_pk", "user_mutes", ["app_pk"])


def downgrade() -> None:
    op.drop_index("ix_user_mutes_app_pk", "user_mutes")
    op.drop_table("user_mutes")
