"""The low-stock notification mark on stocks

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-25 12:14:22.028035
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stocks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("low_stock_notified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("stocks", schema=None) as batch_op:
        batch_op.drop_column("low_stock_notified")

