"""Zone coverage: the localities a zone covers and an optional polygon of `[lat, lng]` points

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing zones get no localities and no polygon: they keep covering exactly the
    # addresses explicitly assigned to them.
    with op.batch_alter_table("zones") as batch:
        batch.add_column(
            sa.Column("localities", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch.add_column(sa.Column("polygon", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zones") as batch:
        batch.drop_column("polygon")
        batch.drop_column("localities")
