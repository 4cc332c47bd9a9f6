"""user attributes and presence (issue 9)

Revision ID: 0009
Revises: 0008

Reserved in sequence while user attributes and presence (issue 9) is built beside
other features, so that the chain of revisions stays linear; the change that adds its
tables fills in ``upgrade``.
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
