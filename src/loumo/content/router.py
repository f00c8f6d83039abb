"""HTTP routes of the FAQ (`/faq/topics`, `/faq`) and of business settings (`/settings`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from loumo.audit.deps import RequestMetaDep
from loumo.content import CONTENT_READ, CONTENT_WRITE, SETTINGS_READ, SETTINGS_WRITE, faq, schemas
from loumo.content import settings as business
from loumo.core.auth import Principal, holds_any, require
from loumo.core.crud import CrudRoutes
from loumo.core.db import SessionDep
from loumo.core.http_cache import CachedRead, cacheable
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.responses import described, no_content
from loumo.core.schemas import Id
from loumo.core.settings import app_settings

SettingsWriter = Annotated[Principal, Depends(require(SETTINGS_WRITE))]
TopicId = Annotated[Id, Path(description="A FAQ topic id")]
EntryId = Annotated[Id, Path(description="A FAQ entry id")]
SettingKey = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A setting key, e.g. fidelity_rate")
]
TopicFilter = Annotated[
    str | None, Query(max_length=120, description="Only the entries of this topic (id or slug)")
]
SectionFilter = Annotated[
    str | None, Query(max_length=64, description="Only the settings of this section")
]
SLUG_TAKEN = described({409: "The slug is taken"})
UNKNOWN_TOPIC = described({400: "unknown_topic"})

# Content staff see unpublished topics and entries.
SeesUnpublished = Annotated[bool, Depends(holds_any(CONTENT_READ, CONTENT_WRITE))]
UNPUBLISHED = {"include_unpublished": SeesUnpublished}
# Settings staff see private settings.
SeesPrivate = Annotated[bool, Depends(holds_any(SETTINGS_READ, SETTINGS_WRITE))]

faq_router = APIRouter(prefix="/faq", tags=["faq"])
WRITE_POLICY = "permission:content:write"  # the policy of every FAQ change
topic_routes = CrudRoutes(
    faq_router, "/topics/{topic_id}", schemas.FaqTopicRead, id=TopicId, policy=WRITE_POLICY
)
entry_routes = CrudRoutes(
    faq_router, "/{entry_id}", schemas.FaqEntryRead, id=EntryId, policy=WRITE_POLICY
)
settings_router = APIRouter(prefix="/settings", tags=["settings"])


# Topic routes come first: `/faq/topics` must not be taken for the entry id "topics".
topic_routes.cached_list(
    faq.list_topics,
    summary="FAQ topics by position (published ones; content staff see all)",
    description="Every topic in one page (`next_cursor` is null).",
    keywords=UNPUBLISHED,
)


topic_routes.create(
    faq.create_topic,
    schemas.FaqTopicCreate,
    summary="Create a FAQ topic (staff)",
    responses=SLUG_TAKEN,
)
topic_routes.get(faq.get_topic, summary="One FAQ topic", policy="public", keywords=UNPUBLISHED)
topic_routes.update(
    faq.update_topic,
    schemas.FaqTopicUpdate,
    summary="Change, publish or reorder a FAQ topic (staff)",
    responses=SLUG_TAKEN,
)
topic_routes.delete(
    faq.delete_topic,
    summary="Delete an empty FAQ topic (staff)",
    responses=described({409: "topic_not_empty: delete or move its entries first"}),
)


@faq_router.get(
    "",
    summary="FAQ entries by topic and position (published ones; content staff see all)",
    description="Every entry, or one topic's (`topic`: id or slug), in one page.",
    **cacheable(Page[schemas.FaqEntryRead]),
    **policy("public"),
)
async def list_entries(
    session: SessionDep,
    include_unpublished: SeesUnpublished,
    cached: CachedRead,
    topic: TopicFilter = None,
) -> Response:
    return cached(
        await faq.list_entries(session, include_unpublished=include_unpublished, topic=topic)
    )


entry_routes.create(
    faq.create_entry,
    schemas.FaqEntryCreate,
    summary="Create a FAQ entry in a topic (staff)",
    responses=UNKNOWN_TOPIC,
)
entry_routes.get(faq.get_entry, summary="One FAQ entry", policy="public", keywords=UNPUBLISHED)
entry_routes.update(
    faq.update_entry,
    schemas.FaqEntryUpdate,
    summary="Change, publish, reorder or move a FAQ entry (staff)",
    responses=UNKNOWN_TOPIC,
)
entry_routes.delete(faq.delete_entry, summary="Delete a FAQ entry (staff)")


@settings_router.get(
    "",
    summary="Business settings by section (public ones; all with settings:read)",
    description="Every known setting the caller may read, in one page, with the value in "
    "effect: the stored one, else the environment default.",
    **cacheable(Page[schemas.SettingRead]),
    **policy("public"),
)
async def list_settings(
    request: Request,
    session: SessionDep,
    include_private: SeesPrivate,
    cached: CachedRead,
    section: SectionFilter = None,
) -> Response:
    return cached(
        await business.list_settings(
            session, app_settings(request), include_private=include_private, section=section
        )
    )


@settings_router.get(
    "/{key}",
    summary="One business setting (a private one needs settings:read)",
    **policy("public"),
)
async def get_setting(
    key: SettingKey, request: Request, session: SessionDep, include_private: SeesPrivate
) -> schemas.SettingRead:
    return await business.get_setting(
        session, app_settings(request), key, include_private=include_private
    )


@settings_router.put(
    "/{key}",
    summary="Set a business setting (staff; audited)",
    description="Only known keys (404 otherwise); the value must fit the setting's type and "
    "checks (422 on `value`).",
    **policy("permission:settings:write"),
)
async def set_setting(
    key: SettingKey,
    data: schemas.SettingWrite,
    request: Request,
    session: SessionDep,
    principal: SettingsWriter,
    meta: RequestMetaDep,
) -> schemas.SettingRead:
    return await business.set_setting(
        session, app_settings(request), principal, key, data.value, meta=meta
    )


@settings_router.delete(
    "/{key}",
    summary="Reset a business setting to its environment default (staff; audited)",
    **no_content(),
    **policy("permission:settings:write"),
)
async def reset_setting(
    key: SettingKey,
    request: Request,
    session: SessionDep,
    principal: SettingsWriter,
    meta: RequestMetaDep,
) -> None:
    await business.reset_setting(session, app_settings(request), principal, key, meta=meta)


router = APIRouter()
router.include_router(faq_router)
router.include_router(settings_router)
