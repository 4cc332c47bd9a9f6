"""user attributes and presence (issue 9)

Revision ID: 0009
Revises: 0008

A user's attributes are one row (its JSON object and its size in bytes, so an app's
capacity is one sum); presence is a row per user (description, per-device statuses, last
change) and a row per subscription, indexed by its target for the fan-out. Every user
column references ``users.id`` with ON DELETE CASCADE, so a deleted user (or app) leaves
nothing behind.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=f"fk_{table}_{column}_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "user_attributes",
        sa.Column("user_id", sa.String(36)),
        sa.Column("app_pk", sa.String(36), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_attributes"),
        _user_fk("user_attributes", "user_id"),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.id"], name="fk_user_attributes_app_pk_apps", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_user_attributes_app_pk", "user_attributes", ["app_pk"])
    op.create_table(
        "presence",
        sa.Column("user_id", sa.String(36)),
        sa.Column("ext", sa.Text, nullable=False),
        sa.Column("statuses", sa.Text, nullable=False),
        sa.Column("last_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_presence"),
        _user_fk("presence", "user_id"),
    )
    op.create_table(
        "presence_subscriptions",
        sa.Column("subscriber", sa.String(36)),
        sa.Column("target", sa.String(36)),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("subscriber", "target", name="pk_presence_subscriptions"),
        _user_fk("presence_subscriptions", "subscriber"),
        _user_fk("presence_subscriptions", "target"),
    )
    op.create_index("ix_presence_subscriptions_target", "presence_subscriptions", ["target"])


def downgrade() -> None:
    op.drop_index("ix_presence_subscriptions_target", "presence_subscriptions")
    op.drop_table("presence_subscriptions")
    op.drop_table("presence")
    op.drop_index("ix_user_attributes_app_pk", "user_attributes")
    op.drop_table("user_attributes")
