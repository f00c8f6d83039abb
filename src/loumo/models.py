"""The registry of every model, so that Alembic and the tests see the whole schema."""

from loumo.core.db import Base
from loumo.delivery.models import Zone
from loumo.jobs.models import Job

metadata = Base.metadata

__all__ = ["Base", "Job", "Zone", "metadata"]
