"""Request dependencies for recording audit rows from any router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from loumo.audit.service import RequestMeta


def request_meta(request: Request) -> RequestMeta:
    """The caller's address (as the server sees it, proxies resolved) and user agent."""
    return RequestMeta(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


RequestMetaDep = Annotated[RequestMeta, Depends(request_meta)]
