"""Delivery: agents, deliveries with closing codes, proofs, cash at closing, the agents' day.

What is where:
- `models.py`: agent profiles, deliveries (one live per fulfilment), cash hand-ins.
- `agents.py`: staff manage agents (`/agents`), an agent's own profile (`/agents/me`), the
  daily summary and the cash an agent hands in.
- `dispatch.py`: assigning a fulfilment to an agent: capacity taken with one conditional
  UPDATE (never exceeded, whatever the concurrency), the fairest agent picked, the job's pass.
- `visibility.py`: who sees which deliveries (`visible`, the one ownership query) and what of
  them (`read`), the lists; `as_agent`, the gate of the agent's own moves.
- `moves.py`: the moves once assigned: the agent starts or fails an attempt; staff reschedule
  and cancel (each one conditional UPDATE on the status).
- `closing.py`: closing with the customer's code (wrong tries counted, cash recorded), staff
  reissue the code, the customer reads theirs.
- `proofs.py`: the agent's proof photo or the customer's signature.
- `codes.py`: the closing code, derived (HMAC of the delivery id and its issue counter), never
  stored; wrong tries counted with a conditional UPDATE.
- `notices.py`: who is told (the agent on assignment, the customer at start, staff on a lock).
- `tasks.py`: the periodic assignment job (switched by the `delivery_auto_assign` setting).
- `seed.py`: the demo agent's profile (`loumo seed --demo`).
- `schemas.py`, `errors.py`; HTTP only: `agents_router.py` (`/agents`), `deliveries_router.py`
  (`/deliveries`, `/orders/{id}/deliveries`, `/orders/{id}/delivery-code`), both mounted by
  `router.py`.
"""

from loumo.core.permissions import SUPPORT, Permission

AGENTS_READ = "agents:read"
AGENTS_WRITE = "agents:write"
DELIVERIES_READ = "deliveries:read"
DELIVERIES_WRITE = "deliveries:write"

PERMISSIONS = (
    Permission(
        AGENTS_READ, "List delivery agents, read their profile and daily summary", roles=(SUPPORT,)
    ),
    Permission(AGENTS_WRITE, "Create, change and remove delivery agents; record cash hand-ins"),
    Permission(DELIVERIES_READ, "Read every delivery", roles=(SUPPORT,)),
    Permission(DELIVERIES_WRITE, "Assign, reschedule and cancel deliveries; reissue closing codes"),
)
