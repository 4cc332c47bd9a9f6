"""attachments (issue 14): one row per uploaded file, its bytes in the file store

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("uuid", sa.String(36)),
        sa.Column("app_pk", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("filename", sa.String(256), nullable=False),
        sa.Column("restricted", sa.Boolean, nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("thumb_width", sa.Integer, nullable=False),
        sa.Column("thumb_height", sa.Integer, nullable=False),
        sa.Column("thumbnail", sa.String(128), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("group_id", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.id"], name="fk_files_app_pk_apps", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("uuid", name="pk_files"),
    )
    op.create_index("ix_files_app_created", "files", ["app_pk", "created_ms"])
    op.create_index("ix_files_group", "files", ["group_id", "created_ms"])


def downgrade() -> None:
    op.drop_index("ix_files_group", table_name="files")
    op.drop_index("ix_files_app_created", table_name="files")
    op.drop_table("files")
