"""The category tree: one query, sibling slugs, moves without cycles."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Category
from tests.factories import count_statements, make_category, make_product


def _selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


async def test_tree_is_nested_ordered_and_read_in_one_query(
    client: httpx.AsyncClient, staff: dict[str, str], app: FastAPI
) -> None:
    food = await make_category(client, staff, "Épicerie", position=1)
    drinks = await make_category(client, staff, "Boissons", position=0)
    await make_category(client, staff, "Jus", drinks["id"], position=2)
    await make_category(client, staff, "Eaux", drinks["id"], position=1)
    hidden = await make_category(client, staff, "Archives", is_active=False)
    await make_category(client, staff, "Vieux", hidden["id"])
    assert food["slug"] == "epicerie"

    with count_statements(app) as statements:
        response = await client.get("/api/v1/categories")
    assert response.status_code == 200
    assert len(_selects(statements)) == 1
    tree = response.json()["items"]
    assert [c["name"] for c in tree] == ["Boissons", "Épicerie"]
    assert [c["name"] for c in tree[0]["children"]] == ["Eaux", "Jus"]

    staff_tree = (await client.get("/api/v1/categories", headers=staff)).json()["items"]
    archives = next(c for c in staff_tree if c["name"] == "Archives")
    assert [c["name"] for c in archives["children"]] == ["Vieux"]


async def test_slug_is_unique_among_siblings_only(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    a = await make_category(client, staff, "Fruits")
    b = await make_category(client, staff, "Légumes")
    await make_category(client, staff, "Frais", a["id"])
    await make_category(client, staff, "Frais", b["id"])
    clash = await client.post(
        "/api/v1/categories", json={"name": "Frais", "parent_id": a["id"]}, headers=staff
    )
    assert clash.status_code == 409
    root_clash = await client.post("/api/v1/categories", json={"name": "Fruits"}, headers=staff)
    assert root_clash.status_code == 409


async def test_moves_update_the_subtree_and_never_make_a_cycle(
    client: httpx.AsyncClient, staff: dict[str, str], db: AsyncSession
) -> None:
    root = await make_category(client, staff, "Racine")
    child = await make_category(client, staff, "Enfant", root["id"])
    grandchild = await make_category(client, staff, "Petit", child["id"])
    other = await make_category(client, staff, "Autre")

    for target in (root["id"], child["id"], grandchild["id"]):
        response = await client.patch(
            f"/api/v1/categories/{root['id']}", json={"parent_id": target}, headers=staff
        )
        assert response.status_code == 409
        assert response.json()["code"] == "category_cycle"

    moved = await client.patch(
        f"/api/v1/categories/{child['id']}", json={"parent_id": other["id"]}, headers=staff
    )
    assert moved.status_code == 200 and moved.json()["parent_id"] == other["id"]
    paths = dict((await db.execute(select(Category.id, Category.path))).all())
    assert paths[grandchild["id"]] == f"/{other['id']}/{child['id']}/{grandchild['id']}/"

    to_root = await client.patch(
        f"/api/v1/categories/{child['id']}", json={"parent_id": None}, headers=staff
    )
    assert to_root.status_code == 200 and to_root.json()["parent_id"] is None


async def test_delete_refuses_a_category_in_use(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    parent = await make_category(client, staff, "Parent")
    child = await make_category(client, staff, "Enfant", parent["id"])
    await make_product(client, staff, child["id"], name_fr="Riz")
    assert (
        await client.delete(f"/api/v1/categories/{parent['id']}", headers=staff)
    ).status_code == 409
    assert (
        await client.delete(f"/api/v1/categories/{child['id']}", headers=staff)
    ).status_code == 409
    empty = await make_category(client, staff, "Vide")
    assert (
        await client.delete(f"/api/v1/categories/{empty['id']}", headers=staff)
    ).status_code == 204
    assert (await client.get(f"/api/v1/categories/{empty['id']}")).status_code == 404


async def test_unknown_parent_and_customers_are_refused(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: Any
) -> None:
    response = await client.post(
        "/api/v1/categories", json={"name": "X", "parent_id": "nope"}, headers=staff
    )
    assert response.status_code == 400 and response.json()["code"] == "unknown_category"
    customer = await auth_headers("customer000000000000000000000001")
    assert (
        await client.post("/api/v1/categories", json={"name": "X"}, headers=customer)
    ).status_code == 403


async def test_the_tree_depth_is_bounded(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    parent_id = None
    for depth in range(40):
        response = await client.post(
            "/api/v1/categories", json={"name": f"N{depth}", "parent_id": parent_id}, headers=staff
        )
        if response.status_code != 201:
            break
        parent_id = response.json()["id"]
    assert response.status_code == 400 and response.json()["code"] == "category_too_deep"
    assert 20 < depth < 40
