"""groups, their members, their lists of users and their members' attributes

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.String(32)),
        sa.Column("app_pk", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.String(512), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("approval", sa.Boolean, nullable=False),
        sa.Column("allow_invites", sa.Boolean, nullable=False),
        sa.Column("invite_need_confirm", sa.Boolean, nullable=False),
        sa.Column("max_users", sa.Integer, nullable=False),
        sa.Column("custom", sa.Text, nullable=False),
        sa.Column("avatar", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("mute_all", sa.Boolean, nullable=False),
        sa.Column("announcement", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.id"], name="fk_groups_app_pk_apps", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_groups_app_seq", "groups", ["app_pk", "seq"])
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(32)),
        sa.Column("username", sa.String(64)),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("joined_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("group_id", "username", name="pk_group_members"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name="fk_group_members_group_id_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_group_members_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    op.create_table(
        "group_lists",
        sa.Column("group_id", sa.String(32)),
        sa.Column("kind", sa.String(8)),
        sa.Column("username", sa.String(64)),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("by_user", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "kind", "username", name="pk_group_lists"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name="fk_group_lists_group_id_groups",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "group_member_attrs",
        sa.Column("group_id", sa.String(32)),
        sa.Column("username", sa.String(64)),
        sa.Column("key", sa.String(16)),
        sa.Column("value", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "username", "key", name="pk_group_member_attrs"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name="fk_group_member_attrs_group_id_groups",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("group_member_attrs")
    op.drop_table("group_lists")
    op.drop_index("ix_group_members_user_id", "group_members")
    op.drop_table("group_members")
    op.drop_index("ix_groups_app_seq", "groups")
    op.drop_table("groups")
