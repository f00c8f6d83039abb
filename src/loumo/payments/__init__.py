"""The Payment service: payment records, their state machine, and the providers behind them.

What is where (rules in one module per sub-domain; `router.py` is HTTP only):
- `attempts.py`: starting a payment (`POST /orders/{id}/payments`) and the job that asks the
  provider for the money (`initiate`).
- `settlement.py`: acting on the provider's word about a payment (`apply_result`), the status
  check job (`check`), settling the order, refunding unclaimed money, and cash collected on
  delivery (`record_cash_payment`, for `delivery`).
- `webhooks.py`: provider callbacks: verified, stored once, then processed as a job.
- `reconciliation.py`: when payments and refunds in flight are looked at again (back-off,
  the periodic `reconcile`).
- `refunds.py`: staff refunds, the refund job, and the refunds `orders` asks for (a cancelled
  order, a short line).
- `reads.py`: reading payments and refunds (the one ownership rule).
- `states.py`: the state machines; `moves.py`: the one conditional UPDATE that moves a payment.
- `rows.py`: rows reloaded fresh for jobs, and the ids providers know them by.
- `errors.py`: this package's problem codes; `permissions.py`: `payments:read`, `payments:refund`.
- `job_names.py`: the names of the jobs, whose handlers are in `tasks.py`.
- `providers/`: pawaPay, Stripe and cash behind one interface (`providers/base.py`).
- `sandbox/`: the emulation of pawaPay's API, mounted outside production.
- `money.py` (minor units and pawaPay's decimal strings), `models.py`, `schemas.py`.
`orders` never imports this package: payments calls `loumo.orders.payments_port`.
"""

from loumo.payments.permissions import PERMISSIONS

__all__ = ["PERMISSIONS"]
