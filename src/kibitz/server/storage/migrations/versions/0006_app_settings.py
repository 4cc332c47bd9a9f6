"""per-app settings: the limits and switches an app overrides

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_settings",
        sa.Column("app_pk", sa.String(36)),
        sa.Column("name", sa.String(64)),
        sa.Column("value", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.id"], name="fk_app_settings_app_pk_apps", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("app_pk", "name", name="pk_app_settings"),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
