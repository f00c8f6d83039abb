"""The names of the jobs this package handles (in `tasks.py`), in one place, so that the
modules that defer them need not import each other."""

INITIATE_JOB = "payments.initiate"  # ask the provider for the money of a recorded payment
CHECK_JOB = "payments.check"  # fetch a payment's status and act on it
REFUND_JOB = "payments.refund"  # ask the provider to refund, or check on a refund asked for
WEBHOOK_JOB = "payments.webhook"  # process a stored provider notification
RECONCILE_JOB = "payments.reconcile"  # periodic: queue the checks that are due

# Deferred by `orders` (which never imports payments), handled here.
from loumo.orders.job_names import ORDER_CANCELLED_JOB, ORDER_LINE_SHORT_JOB  # noqa: E402

__all__ = [
    "CHECK_JOB",
    "INITIATE_JOB",
    "ORDER_CANCELLED_JOB",
    "ORDER_LINE_SHORT_JOB",
    "RECONCILE_JOB",
    "REFUND_JOB",
    "WEBHOOK_JOB",
]
