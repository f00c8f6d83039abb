"""Fidelity points ledger: `fidelity_entries` replaces the `users.fidelity_points` counter

Each user's counter becomes an `opening_balance` entry; the downgrade folds the ledger back.

SQLite drops a column by rebuilding the table, and dropping `users` with foreign keys enforced
would cascade-delete every row that references it (sessions, roles, addresses…). SQLite ignores
`PRAGMA foreign_keys` inside a transaction, so the transaction in progress is committed first;
SQLite's DDL is not transactional for Alembic anyway. The references are checked afterwards.

Revision ID: 0010f
Revises: 0009
Create Date: 2026-12-03 15:36:47.938731
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010f"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPENING_BALANCE = "opening_balance"
NON_NEGATIVE = "ck_users_fidelity_non_negative"

users = sa.table("users", sa.column("id", sa.String), sa.column("fidelity_points", sa.Integer))
entries = sa.table(
    "fidelity_entries",
    sa.column("id", sa.String),
    sa.column("user_id", sa.String),
    sa.column("points", sa.Integer),
    sa.column("reason", sa.String),
    sa.column("order_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _sqlite_foreign_keys(enabled: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    bind.connection.dbapi_connection.commit()  # end the transaction: the pragma needs none
    bind.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    if bool(bind.exec_driver_sql("PRAGMA foreign_keys").scalar()) != enabled:
        raise RuntimeError("could not switch SQLite's foreign keys; nothing was rebuilt")
    if enabled:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"rebuilding users broke foreign keys: {broken[:5]}")


def upgrade() -> None:
    op.create_table(
        "fidelity_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_fidelity_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fidelity_entries")),
    )
    with op.batch_alter_table("fidelity_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fidelity_entries_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_fidelity_entries_order_id_reason",
            ["order_id", "reason"],
            unique=True,
            postgresql_where=sa.text("order_id IS NOT NULL"),
            sqlite_where=sa.text("order_id IS NOT NULL"),
        )

    bind = op.get_bind()
    balances = bind.execute(
        sa.select(users.c.id, users.c.fidelity_points).where(users.c.fidelity_points != 0)
    ).all()
    if balances:
        now = sa.func.current_timestamp()
        for user_id, points in balances:
            bind.execute(
                entries.insert().values(
                    id=uuid.uuid4().hex,
                    user_id=user_id,
                    points=points,
                    reason=OPENING_BALANCE,
                    order_id=None,
                    created_at=now,
                )
            )

    _sqlite_foreign_keys(False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NON_NEGATIVE), type_="check")
        batch_op.drop_column("fidelity_points")
    _sqlite_foreign_keys(True)


def downgrade() -> None:
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fidelity_points", sa.Integer(), server_default="0", nullable=False)
        )
    total = (
        sa.select(sa.func.coalesce(sa.func.sum(entries.c.points), 0))
        .where(entries.c.user_id == users.c.id)
        .scalar_subquery()
    )
    op.get_bind().execute(
        users.update().values(fidelity_points=sa.case((total > 0, total), else_=0))
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("fidelity_points", server_default=None)
        batch_op.create_check_constraint(op.f(NON_NEGATIVE), "fidelity_points >= 0")
    _sqlite_foreign_keys(True)

    with op.batch_alter_table("fidelity_entries", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_fidelity_entries_order_id_reason",
            postgresql_where=sa.text("order_id IS NOT NULL"),
            sqlite_where=sa.text("order_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_fidelity_entries_user_id"))

    op.drop_table("fidelity_entries")
