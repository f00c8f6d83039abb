"""HTTP routes of delivery: agents (`agents_router.py`) and deliveries (`deliveries_router.py`)."""

from fastapi import APIRouter

from loumo.delivery.agents_router import agents_router
from loumo.delivery.deliveries_router import deliveries_router

router = APIRouter()
router.include_router(agents_router)
router.include_router(deliveries_router)
