"""Mail to an account holder, through the Email service's one door: `send_email` validates the
message, then defers its sending in the caller's transaction."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.context import AuthContext
from loumo.accounts.models import User
from loumo.notifications.email import send_email


async def mail_user(session: AsyncSession, user: User, template: str, **context: Any) -> None:
    """Defer `template` to `user` in their language; the context always holds their name."""
    await send_email(
        session,
        to=user.email,
        to_name=user.name,
        template=template,
        language=user.language,
        context={"name": user.name, **context},
    )


def link(ctx: AuthContext, path: str, token: str) -> str:
    """A link to the web client carrying a one-time token (e.g. `verify-email?token=…`)."""
    return f"{ctx.public_base_url.rstrip('/')}/{path}?{urlencode({'token': token})}"
