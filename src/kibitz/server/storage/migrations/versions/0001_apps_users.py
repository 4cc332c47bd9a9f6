"""apps and users

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org_name", sa.String(64), nullable=False),
        sa.Column("app_name", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("client_secret", sa.String(128), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("app_certificate", sa.String(32), nullable=False),
        sa.Column("token_secret", sa.String(128), nullable=False),
        sa.Column("max_devices", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_apps"),
        sa.UniqueConstraint("org_name", "app_name", name="uq_apps_org_app"),
        sa.UniqueConstraint("client_id", name="uq_apps_client_id"),
        sa.UniqueConstraint("app_id", name="uq_apps_app_id"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("app_pk", sa.String(36), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("activated", sa.Boolean, nullable=False),
        sa.Column("nickname", sa.String(128), nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
        sa.Column("token_epoch", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.id"], name="fk_users_app_pk_apps", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("app_pk", "username", name="uq_users_app_username"),
    )
    op.create_index("ix_users_app_created", "users", ["app_pk", "created_ms", "id"])


def downgrade() -> None:
    op.drop_index("ix_users_app_created", "users")
    op.drop_table("users")
    op.drop_table("apps")
