"""Content fixtures: staff who write the FAQ and settings, FAQ rows made through the API, and
a clean settings cache between tests (the reader caches stored values for up to 2 s, and
every test starts from empty tables)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loumo.content import settings as business
from tests.conftest import AuthHeaders
from tests.orders.conftest import world  # noqa: F401  (the marketplace the readers are tested on)
from tests.payments.conftest import live_url, sandbox  # noqa: F401  (paying through the sandbox)

API = "/api/v1"


@pytest.fixture(autouse=True)
def _forget_settings() -> Iterator[None]:
    business.forget()
    yield
    business.forget()


@pytest.fixture
async def editor(auth_headers: AuthHeaders) -> dict[str, str]:
    """Headers of staff who write the FAQ (`content:write`)."""
    return await auth_headers("editor00000000000000000000000001", permissions=["content:write"])


@pytest.fixture
async def proofreader(auth_headers: AuthHeaders) -> dict[str, str]:
    """Headers of staff who may read unpublished FAQ (`content:read`) and nothing more."""
    return await auth_headers("proofread00000000000000000000001", permissions=["content:read"])


@pytest.fixture
async def settings_staff(auth_headers: AuthHeaders) -> dict[str, str]:
    """Headers of staff who change business settings (`settings:write`)."""
    return await auth_headers("setstaff000000000000000000000001", permissions=["settings:write"])


async def make_topic(
    client: httpx.AsyncClient, headers: dict[str, str], slug: str, **overrides: Any
) -> dict[str, Any]:
    body = {"slug": slug, "title_fr": slug.capitalize(), "is_published": True, **overrides}
    response = await client.post(f"{API}/faq/topics", json=body, headers=headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def make_entry(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    topic_id: str,
    question: str,
    **overrides: Any,
) -> dict[str, Any]:
    body = {
        "topic_id": topic_id,
        "question_fr": question,
        "answer_fr": f"Réponse : {question}",
        "is_published": True,
        **overrides,
    }
    response = await client.post(f"{API}/faq", json=body, headers=headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made
