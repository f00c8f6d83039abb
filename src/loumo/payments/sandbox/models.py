"""What the pawaPay sandbox holds: deposits, refunds and the callbacks it delivered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, utcnow
from loumo.core.ids import new_id


class SandboxDeposit(Base):
    """A deposit as the emulated pawaPay sees it; `outcome` is decided by the test number."""

    __tablename__ = "sandbox_deposits"

    deposit_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    amount: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    phone: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str] = mapped_column(String(40))
    scenario: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24))  # ACCEPTED | COMPLETED | FAILED
    failure_code: Mapped[str | None] = mapped_column(String(64), default=None)
    provider_transaction_id: Mapped[str | None] = mapped_column(String(40), default=None)
    complete_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SandboxRefund(Base):
    __tablename__ = "sandbox_refunds"

    refund_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    deposit_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sandbox_deposits.deposit_id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24))
    complete_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SandboxCallback(Base):
    """One callback the sandbox delivered (a duplicated one appears twice)."""

    __tablename__ = "sandbox_callbacks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # deposit | refund
    reference: Mapped[str] = mapped_column(String(36), index=True)
    url: Mapped[str] = mapped_column(String(500))
    status_code: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
