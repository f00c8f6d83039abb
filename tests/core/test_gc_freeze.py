"""A served app (`loumo serve`'s processes) moves what lives as long as the process out of the
garbage collector's sight once started; an app made per test does not (frozen objects are never
collected)."""

from __future__ import annotations

import gc

from loumo.core.settings import Settings
from loumo.main import create_app


async def test_a_served_app_freezes_its_long_lived_objects_and_a_test_app_does_not(
    settings: Settings,
) -> None:
    gc.unfreeze()
    try:
        plain = create_app(settings)
        async with plain.router.lifespan_context(plain):
            assert gc.get_freeze_count() == 0
        served = create_app(settings, freeze_gc=True)
        async with served.router.lifespan_context(served):
            assert gc.get_freeze_count() > 10_000  # the modules, routes and schemas at least
    finally:
        gc.unfreeze()
