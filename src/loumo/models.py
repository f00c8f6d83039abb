"""The registry of every model, so that Alembic and the tests see the whole schema."""

from loumo.core.db import Base
from loumo.delivery.models import Zone
from loumo.jobs.models import Job
from loumo.media.models import MediaFile

metadata = Base.metadata

__all__ = ["Base", "Job", "MediaFile", "Zone", "metadata"]
