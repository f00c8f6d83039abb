"""The registry of every module that declares job handlers, imported by API and worker processes.

Add a domain's `tasks.py` here when it gets one (`JOBS_MODULES` adds more at run time).
`loumo.accounts.tasks` also registers the notification recipient directory, which the jobs of
the packages below accounts (shops) need: keep it listed.
"""

TASK_MODULES: tuple[str, ...] = (
    "loumo.notifications.tasks",
    "loumo.accounts.tasks",
    "loumo.shops.tasks",
    "loumo.media.tasks",
    "loumo.orders.tasks",
    "loumo.payments.tasks",
    "loumo.payments.sandbox.tasks",
)
