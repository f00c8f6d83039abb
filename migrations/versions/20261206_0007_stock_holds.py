"""Stock holds: units a checkout took before its order exists (`shops.models.StockHold`)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_holds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("holder_id", sa.String(length=32), nullable=False),
        sa.Column("shop_id", sa.String(length=32), nullable=False),
        sa.Column("variant_id", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_holds_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["shop_id", "variant_id"],
            ["stocks.shop_id", "stocks.variant_id"],
            name=op.f("fk_stock_holds_shop_id_stocks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_holds")),
    )
    op.create_index(op.f("ix_stock_holds_created_at"), "stock_holds", ["created_at"])
    op.create_index(op.f("ix_stock_holds_holder_id"), "stock_holds", ["holder_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_stock_holds_holder_id"), table_name="stock_holds")
    op.drop_index(op.f("ix_stock_holds_created_at"), table_name="stock_holds")
    op.drop_table("stock_holds")
