"""Every error delivery raises."""

from __future__ import annotations

from loumo.core.errors import BadRequest, Conflict, NotFound


class AgentNotFound(NotFound):
    code, title = "agent_not_found", "Agent not found"


class DeliveryNotFound(NotFound):
    code, title = "delivery_not_found", "Delivery not found"


class UnknownUser(BadRequest):
    code, title = "unknown_user", "Unknown user"


class UnknownAgent(BadRequest):
    code, title = "unknown_agent", "Unknown agent"


class AgentNotInZone(BadRequest):
    code, title = "agent_not_in_zone", "The agent does not serve the order's zone"


class FulfilmentRequired(BadRequest):
    code, title = "fulfilment_required", "Name the fulfilment (or shop) to deliver"


class UnknownFulfilment(BadRequest):
    code, title = "unknown_fulfilment", "No such fulfilment on this order"


class AlreadyAnAgent(Conflict):
    code, title = "already_an_agent", "This user already has an agent profile"


class AgentBusy(Conflict):
    code, title = "agent_busy", "The agent still carries deliveries"


class AgentAtCapacity(Conflict):
    code, title = "agent_at_capacity", "The agent carries as many deliveries as they may"


class NoAgentAvailable(Conflict):
    code, title = "no_agent_available", "No available agent serves this zone under capacity"


class FulfilmentNotReady(Conflict):
    code, title = "fulfilment_not_ready", "The fulfilment is not ready to deliver"


class AlreadyAssigned(Conflict):
    code, title = "already_assigned", "This fulfilment already has a delivery"


class DeliveryStateConflict(Conflict):
    code, title = "delivery_state", "The delivery is not in a state that allows this"


class WrongCode(BadRequest):
    code, title = "wrong_code", "Wrong closing code"
    keep_changes = True  # the try is counted


class CodeLocked(Conflict):
    code, title = "code_locked", "Too many wrong codes: staff must reissue the code"
    keep_changes = True  # the lock and the staff alert stay


class CodeExpired(Conflict):
    code, title = "code_expired", "The closing code expired: staff must reissue it"


class NotReschedulable(Conflict):
    code, title = "not_reschedulable", "A refused delivery cannot be rescheduled"
