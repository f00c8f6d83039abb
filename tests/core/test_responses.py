"""`no_content()`: a route that returns None answers 204 with no body and no content type."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from loumo.core.responses import no_content


async def test_a_no_content_route_answers_an_empty_204() -> None:
    app = FastAPI()

    @app.delete("/things/{thing_id}", **no_content())
    async def delete_thing(thing_id: str) -> None:
        assert thing_id == "1"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.delete("/things/1")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    assert (
        "content" not in app.openapi()["paths"]["/things/{thing_id}"]["delete"]["responses"]["204"]
    )
