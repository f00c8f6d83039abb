"""promotions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 12:11:10.827878
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
        "promotions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("min_order_amount", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("max_uses_per_customer", sa.Integer(), nullable=True),
        sa.Column("uses_count", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'percentage' AND value BETWEEN 1 AND 100) OR (kind = 'fixed' AND value > 0)",
            name=op.f("ck_promotions_value_in_range"),
        ),
        sa.CheckConstraint(
            "kind IN ('percentage', 'fixed')", name=op.f("ck_promotions_kind_known")
        ),
        sa.CheckConstraint(
            "scope IN ('all', 'categories', 'products', 'shops')",
            name=op.f("ck_promotions_scope_known"),
        ),
        sa.CheckConstraint(
            "max_uses IS NULL OR uses_count <= max_uses", name=op.f("ck_promotions_uses_within_max")
        ),
        sa.CheckConstraint("uses_count >= 0", name=op.f("ck_promotions_uses_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
        sa.UniqueConstraint("code", name=op.f("uq_promotions_code")),
    )
    op.create_table(
        "promotion_redemptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("promotion_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("discount", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_redemptions_promotion_id_promotions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_redemptions")),
        sa.UniqueConstraint(
            "promotion_id", "order_id", name=op.f("uq_promotion_redemptions_promotion_id_order_id")
        ),
    )
    with op.batch_alter_table("promotion_redemptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_promotion_redemptions_promotion_id_user_id",
            ["promotion_id", "user_id"],
            unique=False,
        )

    op.create_table(
        "promotion_targets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("promotion_id", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_targets_promotion_id_promotions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_targets")),
        sa.UniqueConstraint(
            "promotion_id", "target_id", name=op.f("uq_promotion_targets_promotion_id_target_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("promotion_targets")
    with op.batch_alter_table("promotion_redemptions", schema=None) as batch_op:
        batch_op.drop_index("ix_promotion_redemptions_promotion_id_user_id")

    op.drop_table("promotion_redemptions")
    op.drop_table("promotions")
