"""attachments (issue 14)

Revision ID: 0007
Revises: 0006

Reserved in sequence while attachments (issue 14) is built beside
other features, so that the chain of revisions stays linear; the change that adds its
tables fills in ``upgrade``.
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
