"""Orders: quotes, checkout, orders and their fulfilments, the order state machines.

What is where:
- `quote.py`: the quote (catalog prices, the promotion, fees per fulfilment, availability).
- `checkout.py`: placing an order (amounts frozen, stock reserved, promotion held).
- `reading.py`: who sees which orders (`visible`, the one ownership query), reading, listing,
  and the audit entry of an action on an order.
- `moves.py`: staff transitions, and the fulfilments' moves: a shop accepts, prepares, marks a
  line short, readies; delivery calls `advance_fulfilment` (out for delivery, delivered, failed).
- `closing.py`: how an order ends, once: cancel, expiry (`ORDER_PAYMENT_TIMEOUT`), completion
  (`ORDER_COMPLETE_AFTER` after delivery, or staff), which awards fidelity points.
- `lifecycle.py`: the moves themselves: conditional UPDATEs with their timeline events, stock
  and the promotion use given back or sold exactly once, the status derived from fulfilments.
- `notices.py`: who is told about each step; its FR/EN in-app texts are `notices.toml`.
- `fidelity.py`: the points an order earns when it completes (`FIDELITY_RATE`) and what a
  refund takes back, on the ledger of `accounts.fidelity`.
- `refunds.py`: the refund arithmetic of DESIGN.md, and applying a refund once.
- `payments_port.py`: all that the Payment service (a layer above) may ask of an order:
  payable order, settle, failure, refund plan and its application.
- `states.py`: the allowed moves of orders and fulfilments, in one table each.
- `queries.py`: the shared reads (an order, its items, its fulfilments); `errors.py`: every
  error orders raise (but `states.IllegalTransition`).
- `tasks.py`: expiry of unpaid orders, completion of delivered ones and purge of old
  idempotency keys (periodic jobs).
- `seed.py`: demo orders; `models.py`, `schemas.py`, `router.py` (HTTP only).
"""

from loumo.core.permissions import SUPPORT, Permission

READ = "orders:read"
WRITE = "orders:write"

PERMISSIONS = (
    Permission(READ, "List and read every order", roles=(SUPPORT,)),
    Permission(WRITE, "Move, cancel and manage any order"),
)
