"""The story of issue 5: staff stock a product with an image, a customer finds and sees it, and a
manager of another shop cannot touch its stock."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from tests.conftest import AuthHeaders
from tests.factories import make_category, make_shop, make_zone
from tests.images import png_bytes


async def test_staff_stock_a_product_with_an_image_that_a_customer_finds(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders
) -> None:
    # Staff: a category, a product with two variants, stock in two shops, an image.
    zone = await make_zone(client, staff)
    akwa = await make_shop(client, staff, zone["id"], name="Akwa")
    bonapriso = await make_shop(client, staff, zone["id"], name="Bonapriso")
    elsewhere = await make_shop(client, staff, zone["id"], name="Deido")
    dairy = await make_category(client, staff, "Produits laitiers")
    cheeses = await make_category(client, staff, "Fromages", dairy["id"])
    created = await client.post(
        "/api/v1/products",
        headers=staff,
        json={
            "reference": "FRM-COMTE",
            "name_fr": "Comte affine 18 mois",
            "name_en": "Aged Comte cheese",
            "category_id": cheeses["id"],
            "variants": [
                {"name": "200 g", "sku": "COMTE-200", "price": 3500, "weight": 200, "unit": "g"},
                {"name": "500 g", "sku": "COMTE-500", "price": 8000, "weight": 500, "unit": "g"},
            ],
        },
    )
    assert created.status_code == 201, created.text
    product = created.json()
    small, large = product["variants"]
    for shop, variant, quantity in [
        (akwa, small, 12),
        (akwa, large, 4),
        (bonapriso, small, 0),
    ]:
        stocked = await client.put(
            f"/api/v1/shops/{shop['id']}/stock/{variant['id']}",
            json={"quantity": quantity, "threshold": 1},
            headers=staff,
        )
        assert stocked.status_code == 200, stocked.text
    photo = png_bytes((230, 200, 80), size=(1600, 1200))
    image = await client.post(
        f"/api/v1/products/{product['id']}/images",
        files={"file": ("comte.png", photo, "image/png")},
        headers=staff,
    )
    assert image.status_code == 201, image.text

    # A customer finds it by an accented term, by category and by price range.
    customer = await auth_headers("customer000000000000000000000042")

    async def found(**params: str | int) -> list[str]:
        response = await client.get("/api/v1/products", params=params, headers=customer)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await found(q="comté affiné") == [product["id"]]
    assert await found(q="COMTÉ") == [product["id"]]
    assert await found(category_id=dairy["id"]) == [product["id"]]
    assert await found(min_price=7000, max_price=9000) == [product["id"]]
    assert await found(max_price=1000) == []
    assert await found(q="comté", in_stock=True, shop_id=akwa["id"]) == [product["id"]]

    # ...and sees its availability per shop and its thumbnails.
    item = (await client.get("/api/v1/products", params={"q": "comté"})).json()["items"][0]
    assert item["in_stock"] is True and item["price"] == 3500
    availability = {v["sku"]: v["availability"] for v in item["variants"]}
    assert sorted(availability["COMTE-200"], key=lambda a: a["shop_id"]) == sorted(
        [
            {"shop_id": akwa["id"], "available": 12},
            {"shop_id": bonapriso["id"], "available": 0},
        ],
        key=lambda a: a["shop_id"],
    )
    assert availability["COMTE-500"] == [{"shop_id": akwa["id"], "available": 4}]
    [picture] = item["images"]
    for size, url in picture["thumbnails"].items():
        served = await client.get(httpx.URL(url).path)
        assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
        with Image.open(io.BytesIO(served.content)) as thumbnail:
            assert thumbnail.format == "WEBP"
            assert max(thumbnail.size) == min(int(size), 1600)
    assert picture["url"] == picture["thumbnails"]["1200"]

    # A manager of another shop cannot touch that stock; their own shop is theirs to stock.
    manager = await auth_headers("manager0000000000000000000000042", shops=[elsewhere["id"]])
    stock_url = f"/api/v1/shops/{akwa['id']}/stock/{small['id']}"
    for method, url, body in [
        ("PUT", stock_url, {"quantity": 0}),
        ("POST", f"{stock_url}/adjustments", {"delta": -12, "reason": "theft"}),
        ("GET", stock_url, None),
        ("GET", f"/api/v1/shops/{akwa['id']}/stock", None),
    ]:
        response = await client.request(method, url, json=body, headers=manager)
        assert response.status_code == 403, (method, url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    own = await client.put(
        f"/api/v1/shops/{elsewhere['id']}/stock/{small['id']}",
        json={"quantity": 5},
        headers=manager,
    )
    assert own.status_code == 200
    unchanged = await client.get(stock_url, headers=staff)
    assert unchanged.json()["quantity"] == 12
