"""Whatever JSON arrives, the accounts endpoints answer 2xx or a 4xx problem, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loumo.accounts.models import User
from tests.factories import auth_headers

API = "/api/v1"
FIELDS = ["name", "email", "password", "phone", "language", "code", "token", "refresh_token"]
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["ada@example.com", "a-sound-passphrase-42", "123456", "fr"]),
    st.lists(st.text(max_size=5), max_size=3),
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=6),
    st.lists(st.integers(), max_size=3),
    st.text(max_size=20),
)
paths = st.sampled_from(
    [
        "/auth/register",
        "/auth/verify-email",
        "/auth/resend-verification",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/password/forgot",
        "/auth/password/reset",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=paths, body=bodies)
async def test_no_body_makes_the_auth_endpoints_fail(
    client: httpx.AsyncClient, path: str, body: Any
) -> None:
    response = await client.post(f"{API}{path}", json=body)
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


STAFF_FIELDS = [
    "name",
    "phone",
    "language",
    "label",
    "street",
    "locality",
    "description",
    "zone_id",
    "latitude",
    "longitude",
    "is_default",
    "permissions",
    "roles",
    "is_active",
]
staff_bodies = st.dictionaries(st.sampled_from(STAFF_FIELDS), values, max_size=6)
staff_targets = st.sampled_from(
    [
        ("PATCH", "/me"),
        ("POST", "/me/addresses"),
        ("POST", "/roles"),
        ("PATCH", "/users/{self}"),
        ("GET", "/users?email={text}"),
        ("GET", "/audit-log?action={text}"),
        ("GET", "/users?cursor={text}"),
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=staff_targets, body=staff_bodies, text=st.text(max_size=20))
async def test_no_input_makes_the_signed_in_endpoints_fail(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin: User,
    target: tuple[str, str],
    body: dict[str, Any],
    text: str,
) -> None:
    method, path = target
    url = API + path.format(self=admin.id, text=quote(text))
    headers = await auth_headers(app, admin)
    response = await client.request(
        method, url, json=body if method != "GET" else None, headers=headers
    )
    assert response.status_code < 500, (url, body, response.text)
