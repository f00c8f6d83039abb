"""Proofs of delivery: the agent attaches a photo or the customer's signature (an uploaded
image, purpose `delivery_proof`) while the delivery is out or delivered."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.delivery.dispatch import (
    audit_delivery,
)
from loumo.delivery.errors import (
    DeliveryStateConflict,
)
from loumo.delivery.models import Delivery
from loumo.delivery.schemas import (
    DeliveryStatus,
    ProofKind,
)
from loumo.delivery.visibility import as_agent
from loumo.media import service as media


async def add_proof(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    kind: ProofKind,
    key: str,
    *,
    meta: RequestMeta,
) -> Delivery:
    """The agent records a proof photo or the customer's signature (an uploaded image)."""
    delivery, _ = await as_agent(session, principal, delivery_id)
    if delivery.status not in (DeliveryStatus.OUT_FOR_DELIVERY, DeliveryStatus.DELIVERED):
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; proofs come with delivering it",
            status=delivery.status,
        )
    column = "proof_photo_key" if kind is ProofKind.PHOTO else "proof_signature_key"
    before = getattr(delivery, column)
    await media.update_references(session, [before], [key], field="key")
    setattr(delivery, column, key)
    await session.flush()
    await audit_delivery(
        session, meta, principal.user_id, "delivery.proof", delivery, kind=kind.value, key=key
    )
    return delivery


async def ensure_agent(session: AsyncSession, principal: Principal, delivery_id: str) -> None:
    """Refuse (404/403) a caller who is not the delivery's agent, before an upload is read."""
    await as_agent(session, principal, delivery_id)
