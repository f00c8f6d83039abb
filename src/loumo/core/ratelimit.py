"""Rate limits (library `limits`): in process memory by default, Redis when `REDIS_URL` is set.

With Redis every API process shares the same counters, so a limit holds across processes and
machines. Limits use a moving window: the (n+1)th hit within the window is refused.

`hit` is the only gate: it counts and decides in one atomic step (a lock in memory, a Lua script
in Redis), so parallel requests cannot all pass a check made before any of them was counted.
Count an attempt before doing the work it guards (checking a password, a code), never after.

When the shared store does not answer, `RATE_LIMIT_FAIL_OPEN` decides (docs/security.md, "When
Redis is down"): false (the default) refuses every rate-limited request with a 503 until it
answers again; true counts in this process's memory meanwhile, so each limit still holds per
process (N processes allow up to N times the limit). Routes without a limit keep serving either
way.
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
from loumo.core.errors import RateLimited, Unavailable
from loumo.core.settings import Settings

logger = structlog.get_logger("loumo.ratelimit")


# How long a call to the shared store may take before it counts as down (connecting, answering).
STORE_TIMEOUT_SECONDS = 2.0


class RateLimitStoreUnavailable(Unavailable):
    """The shared counters do not answer and limits fail closed (`RATE_LIMIT_FAIL_OPEN` false)."""

    code, title = "rate_limit_unavailable", "Rate limits unavailable"

    def __init__(self) -> None:
        super().__init__("The rate-limit store is unavailable; try again shortly")


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

    def __init__(self, storage: Storage, prefix: str = "loumo", *, fail_open: bool = False) -> None:
        self.storage = storage
        self.prefix = prefix
        self._strategy = MovingWindowRateLimiter(storage)
        # Fail open: this process's own counters, used while `storage` does not answer.
        self._fallback = MovingWindowRateLimiter(MemoryStorage()) if fail_open else None

    def _ids(self, rule: Rule, key: str) -> tuple[str, str, str]:
        return self.prefix, rule.name, key.casefold()

    async def _hit(self, strategy: MovingWindowRateLimiter, rule: Rule, key: str) -> None:
        ids = self._ids(rule, key)
        if not await strategy.hit(rule.item, *ids):
            stats = await strategy.get_window_stats(rule.item, *ids)
            raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))

    async def hit(self, rule: Rule, key: str) -> None:
        """Count one hit; refuse it with 429 when the limit is already reached."""
        try:
            await self._hit(self._strategy, rule, key)
        except StorageError as exc:
            if self._fallback is None:
                raise self._unavailable(exc) from None
            logger.warning("rate_limit_store_down_counting_locally", error=str(exc))
            await self._hit(self._fallback, rule, key)

    async def clear(self, rule: Rule, key: str) -> None:
        """Forget the hits of one (rule, key), e.g. an account's failures after a success."""
        if self._fallback is not None:
            await self._fallback.clear(rule.item, *self._ids(rule, key))
        try:
            await self._strategy.clear(rule.item, *self._ids(rule, key))
        except StorageError as exc:
            if self._fallback is None:
                raise self._unavailable(exc) from None
            logger.warning("rate_limit_store_down_counting_locally", error=str(exc))

    async def reset(self) -> None:
        """Forget every counter (tests and operators)."""
        await self.storage.reset()

    async def ping(self) -> None:
        if not await self.storage.check():
            raise RuntimeError("the rate-limit store does not answer")

    @staticmethod
    def _unavailable(exc: Exception) -> RateLimitStoreUnavailable:
        logger.error("rate_limit_store_error", error=str(exc))
        return RateLimitStoreUnavailable()


def create_rate_limiter(settings: Settings) -> RateLimiter:
    """Memory storage by default; Redis (shared by every process) when `REDIS_URL` is set."""
    prefix = settings.rate_limit_prefix
    if settings.redis_url:
        storage: Storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=prefix,
            wrap_exceptions=True,
            socket_timeout=STORE_TIMEOUT_SECONDS,
            socket_connect_timeout=STORE_TIMEOUT_SECONDS,
        )
    else:
        storage = MemoryStorage()
    return RateLimiter(storage, prefix, fail_open=settings.rate_limit_fail_open)


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
