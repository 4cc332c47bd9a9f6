"""messages, inboxes, queues, devices and cursors

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger, autoincrement=False),
        sa.Column("app_pk", sa.String(36), nullable=False),
        sa.Column("chat_type", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("sender_resource", sa.String(128), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("meta", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.id"], name="fk_messages_app_pk_apps", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_messages_app_id", "messages", ["app_pk", "id"])
    op.create_table(
        "inbox",
        sa.Column("owner", sa.String(36)),
        sa.Column("queue", sa.String(200)),
        sa.Column("msg_id", sa.BigInteger, autoincrement=False),
        sa.Column("skip_resource", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("owner", "queue", "msg_id", name="pk_inbox"),
        sa.ForeignKeyConstraint(
            ["owner"], ["users.id"], name="fk_inbox_owner_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "queues",
        sa.Column("owner", sa.String(36)),
        sa.Column("queue", sa.String(200)),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner", "queue", name="pk_queues"),
        sa.ForeignKeyConstraint(
            ["owner"], ["users.id"], name="fk_queues_owner_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "devices",
        sa.Column("owner", sa.String(36)),
        sa.Column("resource", sa.String(128)),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner", "resource", name="pk_devices"),
        sa.ForeignKeyConstraint(
            ["owner"], ["users.id"], name="fk_devices_owner_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "cursors",
        sa.Column("owner", sa.String(36)),
        sa.Column("resource", sa.String(128)),
        sa.Column("queue", sa.String(200)),
        sa.Column("acked", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner", "resource", "queue", name="pk_cursors"),
        sa.ForeignKeyConstraint(
            ["owner", "resource"],
            ["devices.owner", "devices.resource"],
            name="fk_cursors_owner_devices",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("cursors")
    op.drop_table("devices")
    op.drop_table("queues")
    op.drop_table("inbox")
    op.drop_index("ix_messages_app_id", "messages")
    op.drop_table("messages")
