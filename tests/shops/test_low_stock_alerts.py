"""Low-stock alerts end to end: a manager's stock change, the `stock.low` job, the notices and
emails in each manager's language, once per crossing and once per repeated delivery."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.settings import Settings
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.outbox import defer
from loumo.jobs.runner import run_pending
from tests.conftest import AuthHeaders
from tests.factories import jobs_named, make_category, make_product, make_shop, make_zone

API = "/api/v1"
MANAGER_FR = "lowmgrfr000000000000000000000001"
MANAGER_EN = "lowmgren000000000000000000000001"
MANAGER_B = "lowmgrb0000000000000000000000001"
CUSTOMER = "lowcust0000000000000000000000001"
STAFF = "staff000000000000000000000000001"  # the `staff` fixture: holds stock:write


class World:
    def __init__(
        self, client: httpx.AsyncClient, db: AsyncSession, settings: Settings, **ids: Any
    ) -> None:
        self.client, self.db, self.settings = client, db, settings
        self.ids = ids
        self.headers: dict[str, dict[str, str]] = {}

    @property
    def stock_url(self) -> str:
        return f"{API}/shops/{self.ids['shop_a']}/stock/{self.ids['variant']}"

    async def adjust(self, who: str, delta: int) -> dict[str, Any]:
        response = await self.client.post(
            self.stock_url + "/adjustments",
            json={"delta": delta, "reason": "test"},
            headers=self.headers[who],
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def run_jobs(self) -> None:
        await run_pending(self.db, self.settings)

    async def notices(self, who: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"{API}/me/notifications", headers=self.headers[who])
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def low_stock_emails(self) -> list[Job]:
        return [
            j
            for j in await jobs_named(self.db, "email.send")
            if j.payload["template"] == "low_stock"
        ]

    def mails(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=policy.default)
            for path in sorted(self.settings.mail_dir.glob("*.eml"))
        ]


@pytest.fixture
async def world(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    auth_headers: AuthHeaders,
    db: AsyncSession,
    settings: Settings,
    tmp_path: Path,
) -> World:
    zone = await make_zone(client, staff)
    shop_a = await make_shop(client, staff, zone["id"], name="Marché Central")
    shop_b = await make_shop(client, staff, zone["id"])
    category = await make_category(client, staff, "Céréales")
    product = await make_product(
        client, staff, category["id"], name_fr="Riz parfumé", name_en="Fragrant rice"
    )
    w = World(
        client,
        db,
        settings.model_copy(update={"mail_dir": tmp_path / "mail"}),
        shop_a=shop_a["id"],
        shop_b=shop_b["id"],
        variant=product["variants"][0]["id"],
    )
    w.headers = {
        "staff": staff,
        "fr": await auth_headers(MANAGER_FR, shops=[shop_a["id"]]),
        "en": await auth_headers(MANAGER_EN, shops=[shop_a["id"]]),
        "b": await auth_headers(MANAGER_B, shops=[shop_b["id"]]),
        "customer": await auth_headers(CUSTOMER),
    }
    await db.execute(update(User).where(User.id == MANAGER_FR).values(language="fr"))
    await db.commit()
    response = await client.put(
        w.stock_url, json={"quantity": 10, "threshold": 3}, headers=w.headers["fr"]
    )
    assert response.status_code == 200, response.text
    await w.run_jobs()
    return w


async def test_a_crossing_notifies_the_shops_managers_once_in_their_language(
    world: World, db: AsyncSession
) -> None:
    assert (await world.adjust("fr", -8))["low_stock"] is True  # 10 -> 2, threshold 3
    await world.run_jobs()

    (fr,) = await world.notices("fr")
    assert fr["kind"] == "stock" and fr["severity"] == "warning" and fr["read"] is False
    assert fr["title"] == "Stock bas : Riz parfumé (V0) chez Marché Central"
    assert fr["body"] == "Il en reste 2 (seuil 3)."
    assert fr["link"] == {"type": "shop", "id": world.ids["shop_a"]}
    (en,) = await world.notices("en")
    assert en["title"] == "Low stock: Fragrant rice (V0) at Marché Central"
    assert en["body"] == "2 left (threshold 3)."
    # Stock staff see it in the app; other shops' managers and customers never do.
    (staff_notice,) = await world.notices("staff")
    assert staff_notice["title"] == en["title"]
    assert await world.notices("b") == []
    assert await world.notices("customer") == []

    emails = {u.id: u.email for u in await db.scalars(select(User))}
    sent = await world.low_stock_emails()
    assert sorted((j.payload["to"], j.payload["language"]) for j in sent) == sorted(
        [(emails[MANAGER_FR], "fr"), (emails[MANAGER_EN], "en")]
    )
    assert all(j.status == JobStatus.SUCCEEDED for j in sent)
    mails = {m["To"].addresses[0].addr_spec: m for m in world.mails()}
    assert set(mails) == {emails[MANAGER_FR], emails[MANAGER_EN]}
    assert str(mails[emails[MANAGER_FR]]["Subject"]) == (
        "Stock bas : Riz parfumé (V0) chez Marché Central"
    )
    english = mails[emails[MANAGER_EN]]
    assert english["Content-Language"] == "en"
    body = english.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    link = f"/shops/{world.ids['shop_a']}/stock/{world.ids['variant']}"
    assert "Fragrant rice (V0) is running low at Marché Central: 2 left" in text
    assert link in text

    # Still low: no new crossing, no new notice or email.
    assert (await world.adjust("en", -1))["low_stock"] is True
    await world.run_jobs()
    assert len(await world.notices("fr")) == 1 and len(await world.notices("en")) == 1
    assert len(await world.low_stock_emails()) == 2

    # Restocked above the threshold, then below again: a new crossing, a new notice each.
    assert (await world.adjust("fr", +5))["low_stock"] is False  # 1 -> 6
    await world.run_jobs()
    assert len(await world.notices("fr")) == 1
    assert (await world.adjust("fr", -6))["low_stock"] is True  # 6 -> 0
    await world.run_jobs()
    latest, _ = await world.notices("en")
    assert latest["severity"] == "critical" and latest["body"] == "0 left (threshold 3)."
    assert len(await world.notices("fr")) == 2 and len(await world.notices("staff")) == 2
    assert len(await world.low_stock_emails()) == 4
    assert len(world.mails()) == 4
    assert await world.notices("b") == []


async def test_a_repeated_delivery_has_one_effect(world: World, db: AsyncSession) -> None:
    await world.adjust("fr", -8)
    await world.run_jobs()
    (alert,) = await jobs_named(db, "stock.low")
    assert alert.status == JobStatus.SUCCEEDED

    # The same job delivered again (as a broker may), and a duplicate job for the same crossing.
    await db.execute(
        update(Job).where(Job.id == alert.id).values(status=JobStatus.PENDING, locked_until=None)
    )
    await defer(
        db, "stock.low", {"shop_id": world.ids["shop_a"], "variant_id": world.ids["variant"]}
    )
    await db.commit()
    await world.run_jobs()

    assert [j.status for j in await jobs_named(db, "stock.low")] == [JobStatus.SUCCEEDED] * 2
    assert len(await world.notices("fr")) == 1 and len(await world.notices("en")) == 1
    assert len(await world.low_stock_emails()) == 2
    assert len(world.mails()) == 2


async def test_nothing_is_sent_when_restocked_before_the_job_ran(
    world: World, db: AsyncSession
) -> None:
    await world.adjust("fr", -8)  # 10 -> 2: the job is deferred
    await world.adjust("fr", +8)  # back to 10 before any job ran
    await world.run_jobs()
    (alert,) = await jobs_named(db, "stock.low")
    assert alert.status == JobStatus.SUCCEEDED
    assert await world.notices("fr") == [] and await world.notices("staff") == []
    assert await world.low_stock_emails() == []


async def test_a_bad_payload_goes_dead_without_retrying(world: World, db: AsyncSession) -> None:
    await defer(db, "stock.low", {"shop_id": 3})
    await db.commit()
    await world.run_jobs()
    (dead,) = await jobs_named(db, "stock.low")
    assert dead.status == JobStatus.DEAD and dead.attempts == 1
