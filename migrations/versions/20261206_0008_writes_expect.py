"""loumo_expect(actual, expected, step): fails the statement it is in when a gathered write
changed another number of rows than expected (`loumo.core.writes`), PostgreSQL only

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION loumo_expect(actual bigint, expected bigint, step text)
        RETURNS bigint LANGUAGE plpgsql AS $$
        BEGIN
            IF actual IS DISTINCT FROM expected THEN
                RAISE EXCEPTION 'loumo_expect %: % rows, not %', step, actual, expected
                    USING ERRCODE = 'LM001';
            END IF;
            RETURN actual;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS loumo_expect(bigint, bigint, text)")
