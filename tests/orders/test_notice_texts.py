"""The order notice texts (`orders/notices.toml`): every step has both languages and names a
known email template."""

from __future__ import annotations

from loumo.notifications.email import TEMPLATES
from loumo.orders.notices import CUSTOMER_NOTICES, MANAGER_NOTICES
from loumo.orders.states import OrderStatus


def test_every_notice_has_a_title_and_body_in_each_language_and_a_known_template() -> None:
    for notice in [*CUSTOMER_NOTICES.values(), *MANAGER_NOTICES.values()]:
        assert len(notice.fr) == len(notice.en) == 2
        assert all(notice.fr) and all(notice.en)
        assert notice.template is None or notice.template in TEMPLATES


def test_the_steps_are_looked_up_by_order_status_too() -> None:
    assert CUSTOMER_NOTICES[OrderStatus.CANCELLED].texts("fr")[0] == "Commande {ref} annulée"
    assert CUSTOMER_NOTICES[OrderStatus.READY].template is None
    assert set(MANAGER_NOTICES) == {"prepare", "accept", "cancelled"}
