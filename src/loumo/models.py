"""The registry of every model, so that Alembic and the tests see the whole schema."""

from loumo.core.db import Base
from loumo.delivery.models import Zone
from loumo.jobs.models import Job, PeriodicRun
from loumo.media.models import MediaFile
from loumo.notifications.models import Notification

metadata = Base.metadata

__all__ = ["Base", "Job", "MediaFile", "Notification", "PeriodicRun", "Zone", "metadata"]
