"""`AuthContext`: what the accounts rules need from the running app and the request.

Services never see `Request`: routers build this (secret key, rate limiter, public base URL for
links, the caller's address for the audit log) and pass it down.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core.ratelimit import RateLimiter


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What the accounts rules need from the running app and the request."""

    secret_key: str
    limiter: RateLimiter
    public_base_url: str
    meta: RequestMeta

    def audit(
        self,
        session: AsyncSession,
        action: str,
        *,
        actor_id: str | None = None,
        user: User | None = None,
        diff: dict[str, Any] | None = None,
    ) -> Awaitable[Any]:
        return audit.record(
            session,
            self.meta,
            action,
            actor_id=actor_id,
            entity_type="user" if user else None,
            entity_id=user.id if user else None,
            diff=diff,
        )
