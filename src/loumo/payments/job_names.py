"""The names of the jobs this package handles (in `tasks.py`), in one place, so that the
modules that defer them need not import each other."""

INITIATE_JOB = "payments.initiate"  # ask the provider for the money of a recorded payment
CHECK_JOB = "payments.check"  # fetch a payment's status and act on it
REFUND_JOB = "payments.refund"  # ask the provider to refund, or check on a refund asked for
WEBHOOK_JOB = "payments.webhook"  # process a stored provider notification
RECONCILE_JOB = "payments.reconcile"  # periodic: queue the checks that are due

# Deferred by `orders` (which never imports payments); the same names as in `orders.service`.
ORDER_CANCELLED_JOB = "order.cancelled"  # refund what a cancelled order had taken
ORDER_LINE_SHORT_JOB = "order.line_short"  # refund a line the shop could not serve
