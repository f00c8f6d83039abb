"""The registry of every module that declares job handlers, imported by API and worker processes.

Add a domain's `tasks.py` here when it gets one (`JOBS_MODULES` adds more at run time).
"""

TASK_MODULES: tuple[str, ...] = ("loumo.notifications.tasks", "loumo.media.tasks")
