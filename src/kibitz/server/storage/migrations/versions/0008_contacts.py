"""contacts, pending contact requests and block lists (issue 9)

Revision ID: 0008
Revises: 0007

A contact is a row per side (each side keeps its own remark), a request a row from the
requester to the invitee, a block a row from the owner to the blocked user; every user
column references ``users.id`` with ON DELETE CASCADE, so a deleted user (or app) leaves
nothing behind on either side.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=f"fk_{table}_{column}_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("owner", sa.String(36)),
        sa.Column("contact", sa.String(36)),
        sa.Column("remark", sa.String(100), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner", "contact", name="pk_contacts"),
        _user_fk("contacts", "owner"),
        _user_fk("contacts", "contact"),
    )
    op.create_index("ix_contacts_contact", "contacts", ["contact"])
    op.create_table(
        "contact_requests",
        sa.Column("requester", sa.String(36)),
        sa.Column("invitee", sa.String(36)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("requester", "invitee", name="pk_contact_requests"),
        _user_fk("contact_requests", "requester"),
        _user_fk("contact_requests", "invitee"),
    )
    op.create_index("ix_contact_requests_invitee", "contact_requests", ["invitee"])
    op.create_table(
        "user_blocks",
        sa.Column("owner", sa.String(36)),
        sa.Column("blocked", sa.String(36)),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner", "blocked", name="pk_user_blocks"),
        _user_fk("user_blocks", "owner"),
        _user_fk("user_blocks", "blocked"),
    )
    op.create_index("ix_user_blocks_blocked", "user_blocks", ["blocked"])


def downgrade() -> None:
    op.drop_index("ix_user_blocks_blocked", "user_blocks")
    op.drop_table("user_blocks")
    op.drop_index("ix_contact_requests_invitee", "contact_requests")
    op.drop_table("contact_requests")
    op.drop_index("ix_contacts_contact", "contacts")
    op.drop_table("contacts")
