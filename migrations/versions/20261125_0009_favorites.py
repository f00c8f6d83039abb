"""Favorites; the low-stock notification mark on stocks

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-25 12:14:22.028035
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "favorites",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_favorites_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favorites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_favorites")),
        sa.UniqueConstraint("user_id", "product_id", name=op.f("uq_favorites_user_id_product_id")),
    )
    with op.batch_alter_table("favorites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_favorites_product_id"), ["product_id"], unique=False)
        batch_op.create_index(
            "ix_favorites_user_id_created_at_id", ["user_id", "created_at", "id"], unique=False
        )

    with op.batch_alter_table("stocks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("low_stock_notified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("stocks", schema=None) as batch_op:
        batch_op.drop_column("low_stock_notified")

    with op.batch_alter_table("favorites", schema=None) as batch_op:
        batch_op.drop_index("ix_favorites_user_id_created_at_id")
        batch_op.drop_index(batch_op.f("ix_favorites_product_id"))

    op.drop_table("favorites")
