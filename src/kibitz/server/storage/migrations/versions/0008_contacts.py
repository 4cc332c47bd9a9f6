"""contacts and block lists (issue 9)

Revision ID: 0008
Revises: 0007

Reserved in sequence while contacts and block lists (issue 9) is built beside
other features, so that the chain of revisions stays linear; the change that adds its
tables fills in ``upgrade``.
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
