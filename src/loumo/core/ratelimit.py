"""Rate limits (library `limits`): in process memory by default, Redis when `REDIS_URL` is set.

With Redis every API process shares the same counters, so a limit holds across processes and
machines. Limits use a moving window: the (n+1)th hit within the window is refused.

`hit` is the only gate: it counts and decides in one atomic step (a lock in memory, a Lua script
in Redis), so parallel requests cannot all pass a check made before any of them was counted.
Count an attempt before doing the work it guards (checking a password, a code), never after.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from loumo.core.auth import CurrentPrincipal
from loumo.core.errors import RateLimited, ServiceUnavailable
from loumo.core.settings import Settings

logger = structlog.get_logger("loumo.ratelimit")


@dataclass(frozen=True, slots=True)
class Rule:
    """A named limit, e.g. `Rule("login-account", "5/15 minutes")`."""

    name: str
    limit: str
    item: RateLimitItem = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item", parse(self.limit))


class RateLimiter:
    """Counts hits per (rule, key) and raises `RateLimited` (429 + Retry-After) past the limit."""

    def __init__(self, storage: Storage, prefix: str = "loumo") -> None:
        self.storage = storage
        self.prefix = prefix
        self._strategy = MovingWindowRateLimiter(storage)

    def _ids(self, rule: Rule, key: str) -> tuple[str, str, str]:
        return self.prefix, rule.name, key.casefold()

    async def _retry_after(self, rule: Rule, key: str) -> int:
        stats = await self._strategy.get_window_stats(rule.item, *self._ids(rule, key))
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def hit(self, rule: Rule, key: str) -> None:
        """Count one hit; refuse it with 429 when the limit is already reached."""
        try:
            allowed = await self._strategy.hit(rule.item, *self._ids(rule, key))
            if not allowed:
                raise RateLimited(await self._retry_after(rule, key))
        except StorageError as exc:
            raise self._unavailable(exc) from None

    async def clear(self, rule: Rule, key: str) -> None:
        """Forget the hits of one (rule, key), e.g. an account's failures after a success."""
        try:
            await self._strategy.clear(rule.item, *self._ids(rule, key))
        except StorageError as exc:
            raise self._unavailable(exc) from None

    async def reset(self) -> None:
        """Forget every counter (tests and operators)."""
        await self.storage.reset()

    async def ping(self) -> None:
        if not await self.storage.check():
            raise RuntimeError("the rate-limit store does not answer")

    @staticmethod
    def _unavailable(exc: Exception) -> ServiceUnavailable:
        logger.error("rate_limit_store_error", error=str(exc))
        return ServiceUnavailable("The rate-limit store is unavailable; try again shortly")


def create_rate_limiter(settings: Settings) -> RateLimiter:
    """Memory storage by default; Redis (shared by every process) when `REDIS_URL` is set."""
    prefix = settings.rate_limit_prefix
    if settings.redis_url:
        storage: Storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=prefix,
            wrap_exceptions=True,
        )
    else:
        storage = MemoryStorage()
    return RateLimiter(storage, prefix)


RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many requests; see `Retry-After`"}
}
"""`responses=` of a route whose service counts hits itself (routes using `limit_per_user` or
`RateLimiterDep` get their 429 documented without it)."""


def app_rate_limiter(request: Request) -> RateLimiter:
    """The app's shared limiter. Every route that depends on it (directly, or through
    `limit_per_user`) is documented with a 429 answer."""
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


RateLimiterDep = Annotated[RateLimiter, Depends(app_rate_limiter)]


def limit_per_user(rule: Rule) -> Callable[..., Awaitable[None]]:
    """A route dependency counting one hit of `rule` by the signed-in caller (429 past it):
    `dependencies=[Depends(limit_per_user(RULE))]`."""

    async def dependency(limiter: RateLimiterDep, principal: CurrentPrincipal) -> None:
        await limiter.hit(rule, principal.user_id)

    dependency.__name__ = f"limit_{rule.name.replace('-', '_')}"
    return dependency
