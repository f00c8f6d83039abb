"""Delivery: agent profiles, deliveries (one live per fulfilment), cash hand-ins; fulfilments
get `returned_at` (their sold units put back once)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 05:56:12.619250
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_agents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("zone_ids", sa.JSON(), nullable=False),
        sa.Column("max_deliveries", sa.Integer(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("vehicle", sa.String(length=120), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("active >= 0", name=op.f("ck_delivery_agents_active_non_negative")),
        sa.CheckConstraint(
            "max_deliveries >= 0", name=op.f("ck_delivery_agents_max_deliveries_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_delivery_agents_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_agents")),
        sa.UniqueConstraint("user_id", name=op.f("uq_delivery_agents_user_id")),
    )
    op.create_table(
        "agent_cash_handins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_by", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_agent_cash_handins_amount_positive")),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["delivery_agents.id"],
            name=op.f("fk_agent_cash_handins_agent_id_delivery_agents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["received_by"],
            ["users.id"],
            name=op.f("fk_agent_cash_handins_received_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_cash_handins")),
    )
    with op.batch_alter_table("agent_cash_handins", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agent_cash_handins_agent_id_created_at", ["agent_id", "created_at"], unique=False
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("fulfilment_id", sa.String(length=32), nullable=False),
        sa.Column("live_fulfilment_id", sa.String(length=32), nullable=True),
        sa.Column("shop_id", sa.String(length=32), nullable=False),
        sa.Column("zone_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("holds_capacity", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("eta", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.String(length=20), nullable=True),
        sa.Column("failure_note", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("code_issue", sa.Integer(), nullable=False),
        sa.Column("code_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_tries", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cash_due", sa.Integer(), nullable=False),
        sa.Column("cash_collected", sa.Integer(), nullable=False),
        sa.Column("proof_photo_key", sa.String(length=200), nullable=True),
        sa.Column("proof_signature_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("code_tries >= 0", name=op.f("ck_deliveries_code_tries_non_negative")),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["delivery_agents.id"],
            name=op.f("fk_deliveries_agent_id_delivery_agents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["fulfilment_id"],
            ["fulfilments.id"],
            name=op.f("fk_deliveries_fulfilment_id_fulfilments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_deliveries_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("live_fulfilment_id", name=op.f("uq_deliveries_live_fulfilment_id")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_agent_id_status", ["agent_id", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deliveries_fulfilment_id"), ["fulfilment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deliveries_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_deliveries_priority_due_at_id", ["priority", "due_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deliveries_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(
            "ix_deliveries_status_updated_at", ["status", "updated_at"], unique=False
        )

    with op.batch_alter_table("fulfilments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fulfilments", schema=None) as batch_op:
        batch_op.drop_column("returned_at")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_updated_at")
        batch_op.drop_index(batch_op.f("ix_deliveries_shop_id"))
        batch_op.drop_index("ix_deliveries_priority_due_at_id")
        batch_op.drop_index(batch_op.f("ix_deliveries_order_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_fulfilment_id"))
        batch_op.drop_index("ix_deliveries_agent_id_status")

    op.drop_table("deliveries")
    with op.batch_alter_table("agent_cash_handins", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_cash_handins_agent_id_created_at")

    op.drop_table("agent_cash_handins")
    op.drop_table("delivery_agents")
