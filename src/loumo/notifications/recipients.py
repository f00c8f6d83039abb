"""Who to tell: a recipient directory that accounts provides, plugged in by `loumo.wiring`.

Notifications never import accounts (it sits above them), yet a job such as "stock is low" must
turn user ids and permissions into names, addresses and languages. `loumo.wiring.build`, which
every API and worker process runs at start-up, registers accounts' two lookups here; domains
below accounts (shops) call these functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.notifications.service import Recipient

ResolveRecipients = Callable[[AsyncSession, Sequence[str]], Awaitable[list[Recipient]]]
HoldersOf = Callable[[AsyncSession, str], Awaitable[list[str]]]


class NoRecipientDirectory(RuntimeError):
    """No directory is registered: the process did not run `loumo.wiring.build`."""


@dataclass(frozen=True, slots=True)
class _Directory:
    resolve: ResolveRecipients
    holders_of: HoldersOf


_directory: _Directory | None = None


def register_recipient_resolver(resolve: ResolveRecipients, holders_of: HoldersOf) -> None:
    """Install the lookups (idempotent: the last registration wins).

    `resolve(session, user_ids)` gives the active users among `user_ids` as recipients;
    `holders_of(session, permission)` the ids of the active users holding `permission`.
    """
    global _directory
    _directory = _Directory(resolve, holders_of)


def _registered() -> _Directory:
    if _directory is None:
        raise NoRecipientDirectory(
            "no recipient directory is registered; run loumo.wiring.build(settings) at start-up"
        )
    return _directory


async def resolve_recipients(session: AsyncSession, user_ids: Sequence[str]) -> list[Recipient]:
    """The active users among `user_ids`, with address, name and language, in `user_ids` order."""
    if not user_ids:
        return []
    return await _registered().resolve(session, list(dict.fromkeys(user_ids)))


async def holders_of(session: AsyncSession, permission: str) -> list[str]:
    """Ids of the active users who hold `permission` (through any role, `*` included)."""
    return await _registered().holders_of(session, permission)
