"""The one shape of a route that honours `Idempotency-Key` (CONTRIBUTING.md rule 15).

`answer_once(...)` hands `idempotent` (`loumo.core.idempotency`) the caller, the key and the
body that identify the request, and work that makes the answer: `produce()` runs once, its
result (a row or a read schema) becomes `answer`, sent with `status`; a retry with the same key
and body gets that answer again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.auth import Principal
from loumo.core.idempotency import idempotent


async def answer_once(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    *,
    body: dict[str, Any],
    produce: Callable[[], Awaitable[object]],
    answer: type[BaseModel],
    status: int = 200,
) -> JSONResponse:
    """Run `produce()` once per `key` and `body` of `principal`; answer `answer` with `status`."""

    async def work() -> tuple[int, Any]:
        return status, answer.model_validate(await produce()).model_dump(mode="json")

    return await idempotent(
        request, session, principal_id=principal.user_id, key=key, body=body, work=work
    )
