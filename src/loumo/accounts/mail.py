"""Mail to an account holder, through the Email service.

Mail without a secret goes through the service's one door: `send_email` validates the message,
then defers its sending in the caller's transaction. Mail that carries a one-time code or link
is deferred by reference (`codes.mail_code`) and built by `tasks.send_code_mail` at send time,
so that no secret sits in the job table.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.notifications.email import EmailJobPayload, send_email

# Templates that carry a one-time code and link, and the web client page the link opens.
CODE_TEMPLATES: dict[str, str] = {
    "verify_email": "verify-email",
    "password_reset": "reset-password",
    "account_pending_claim": "reset-password",
}


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


def code_message(
    user: User, template: str, *, code: str, token: str, public_base_url: str
) -> EmailJobPayload:
    """The message carrying a code and its link (built at send time, never stored)."""
    return EmailJobPayload(
        to=user.email,
        to_name=user.name,
        template=template,
        language=user.language,  # "fr" or "en", normalised by the model
        context={
            "name": user.name,
            "code": code,
            "link": link(public_base_url, CODE_TEMPLATES[template], token),
        },
    )


def link(public_base_url: str, path: str, token: str) -> str:
    """A link to the web client carrying a one-time token (e.g. `verify-email?token=…`)."""
    return f"{public_base_url.rstrip('/')}/{path}?{urlencode({'token': token})}"
