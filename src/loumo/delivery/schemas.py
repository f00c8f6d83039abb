"""Delivery I/O: agents, deliveries (as each kind of reader may see them), summaries."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from loumo.core.schemas import Currency, Id, Input, PatchInput, Read, UtcDatetime, clean_multiline

Note = Annotated[str, StringConstraints(max_length=2000)]
Vehicle = Annotated[str, StringConstraints(max_length=120)]
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Priority = Annotated[int, Field(ge=0, le=9, description="0 is the most urgent")]


class DeliveryStatus(StrEnum):
    ASSIGNED = "assigned"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FailureReason(StrEnum):
    CUSTOMER_ABSENT = "customer_absent"
    REFUSED = "refused"
    ADDRESS_WRONG = "address_wrong"


class ProofKind(StrEnum):
    PHOTO = "photo"
    SIGNATURE = "signature"


# --- agents -------------------------------------------------------------------------------------


class AgentCreate(Input):
    user_id: Id
    zone_ids: list[Id] = Field(default_factory=list, max_length=50)
    max_deliveries: int = Field(default=5, ge=0, le=100)
    available: bool = True
    vehicle: Vehicle = ""
    notes: Note = ""


class AgentUpdate(PatchInput):
    patch_of = AgentCreate
    fixed = frozenset({"user_id"})


class AvailabilityUpdate(PatchInput):
    """What an agent changes on their own profile."""

    available: bool | None = None


class AgentRead(Read):
    id: str
    user_id: str
    name: str = ""
    zone_ids: list[str]
    max_deliveries: int
    available: bool
    vehicle: str
    notes: str
    active: int = Field(description="Deliveries assigned or out, not yet closed")
    last_assigned_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AgentQuery(BaseModel):
    zone_id: Id | None = None
    available: bool | None = None
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class SummaryQuery(BaseModel):
    day: date | None = Field(default=None, description="A UTC day; today by default")


class AgentSummary(BaseModel):
    agent_id: str
    day: date
    currency: str
    assigned: int = Field(description="Deliveries the agent carries now (assigned or out)")
    delivered: int
    failed: int
    cash_collected: int = Field(description="Cash collected at closing on that day")
    cash_handed_in: int = Field(description="Cash handed in to staff on that day")
    cash_owed: int = Field(description="Everything collected minus everything handed in")


class CashHandInCreate(Input):
    amount: int = Field(gt=0, le=10**12)
    currency: Currency = "XAF"
    note: Note = ""


class CashHandInRead(Read):
    id: str
    agent_id: str
    amount: int
    currency: str
    received_by: str
    note: str
    created_at: datetime


# --- deliveries ---------------------------------------------------------------------------------


class DeliveryCreate(Input):
    """Assign one ready fulfilment of the order: to `agent_id`, or to the fairest agent."""

    agent_id: Id | None = None
    fulfilment_id: Id | None = None
    shop_id: Id | None = None
    scheduled_at: UtcDatetime | None = None
    priority: Priority = 5


class DeliveryStart(Input):
    eta_minutes: int | None = Field(default=None, ge=1, le=24 * 60)


class DeliveryComplete(Input):
    code: Code


class DeliveryFail(Input):
    reason: FailureReason
    note: Annotated[str, Field(max_length=2000)] = ""

    def cleaned_note(self) -> str:
        return clean_multiline(self.note)


class DeliveryReschedule(Input):
    scheduled_at: UtcDatetime | None = None
    agent_id: Id | None = None
    priority: Priority | None = None


class DeliveryCancel(Input):
    reason: Note = ""


class DeliveryQuery(BaseModel):
    mine: bool = Field(default=False, description="Only the caller's own (agents)")
    status: DeliveryStatus | None = None
    order_id: Id | None = None
    agent_id: Id | None = None
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class DeliveryLine(BaseModel):
    name_fr: str
    name_en: str
    quantity: int = Field(description="Units to hand over (ordered less short)")


class Proof(BaseModel):
    key: str
    url: str


class DeliveryRead(BaseModel):
    """A delivery as its reader may see it. The customer sees the state, the times and the
    agent's first name; the agent, the shop's managers and staff also see where to go, who to
    ask for, what to hand over and the cash to collect (null for the customer)."""

    id: str
    order_id: str
    order_reference: str
    fulfilment_id: str
    shop_id: str
    status: DeliveryStatus
    priority: int
    scheduled_at: datetime | None
    started_at: datetime | None
    eta: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    failure_reason: FailureReason | None
    agent_first_name: str
    code_locked: bool
    agent_id: str | None = None
    address: dict[str, Any] | None = None
    customer_first_name: str | None = None
    contact_phone: str | None = None
    lines: list[DeliveryLine] | None = None
    payment_method: str | None = None
    currency: str | None = None
    cash_due: int | None = None
    cash_collected: int | None = None
    attempts: int | None = None
    failure_note: str | None = None
    proof_photo: Proof | None = None
    proof_signature: Proof | None = None
    created_at: datetime
    updated_at: datetime


class DeliveryCode(BaseModel):
    delivery_id: str
    code: str = Field(description="Six digits to give the agent on arrival, and to no one else")
    expires_at: datetime | None
    locked: bool


def first_name(name: str | None) -> str:
    parts = (name or "").split()
    return parts[0] if parts else ""
