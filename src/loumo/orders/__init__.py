"""Orders: quotes, checkout, orders and their fulfilments, the order state machines.

What is where:
- `checkout.py`: the quote and placing an order (prices, fees, stock reserved, promotion held).
- `service.py`: reading and listing orders (who sees what), cancel, expiry, completion, staff
  and shop moves.
- `fidelity.py`: the points an order earns when it completes (`FIDELITY_RATE`) and what a
  refund takes back, on the ledger of `accounts.fidelity`.
- `lifecycle.py`: the moves themselves: timeline events, stock and promotion given back once,
  notifications.
- `states.py`: the allowed moves of orders and fulfilments, in one table each.
- `payments_port.py`: what the Payment service (a layer above) may ask of an order: payable
  order, settle, failure, refund plan and its application.
- `tasks.py`: expiry of unpaid orders, completion of delivered ones (`ORDER_COMPLETE_AFTER`)
  and purge of old idempotency keys (periodic jobs).
- `seed.py`: demo orders; `models.py`, `schemas.py`, `router.py` (HTTP only).
"""

from loumo.core.permissions import SUPPORT, Permission

READ = "orders:read"
WRITE = "orders:write"

PERMISSIONS = (
    Permission(READ, "List and read every order", roles=(SUPPORT,)),
    Permission(WRITE, "Move, cancel and manage any order"),
)
