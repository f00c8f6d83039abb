"""The names of this package's jobs (their handlers are in `tasks.py`), in one place, so that
the modules that defer them need not import each other."""

INITIATE_JOB = "payments.initiate"  # ask the provider for the money of a recorded payment
CHECK_JOB = "payments.check"  # fetch a payment's status and act on it
REFUND_JOB = "payments.refund"  # ask the provider to refund, or check on a refund asked for
WEBHOOK_JOB = "payments.webhook"  # process a stored provider notification
RECONCILE_JOB = "payments.reconcile"  # periodic: queue the checks that are due
