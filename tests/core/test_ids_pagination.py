"""Time-ordered ids, opaque cursors and cutting a page."""

from __future__ import annotations

import uuid

import pytest

from loumo.core.ids import new_id
from loumo.core.pagination import (
    InvalidCursor,
    cut_page,
    decode_cursor,
    encode_cursor,
    id_after,
    id_cursor,
)


def test_ids_are_uuid7_and_ordered() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
    # Same-millisecond ids may tie on time but never go back in time.
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)


def test_cursor_round_trip() -> None:
    values = {"id": new_id(), "price": 4500}
    assert decode_cursor(encode_cursor(values)) == values
    assert decode_cursor(None) is None


@pytest.mark.parametrize("bad", ["!!!", "bm90IGpzb24", encode_cursor({"a": 1})[:-3] + "$$", "WzFd"])
def test_foreign_cursors_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(bad)


def test_a_page_is_cut_from_one_row_more_than_the_limit() -> None:
    assert cut_page(["a", "b", "c"], 2, str.upper) == (["a", "b"], "B")
    assert cut_page(["a", "b"], 2, str.upper) == (["a", "b"], None)
    assert cut_page([], 2, str.upper) == ([], None)


def test_an_id_cursor_pages_its_own_list_only() -> None:
    cursor = id_cursor("shops", "01ABC")
    assert id_after(cursor, "shops") == "01ABC"
    with pytest.raises(InvalidCursor):
        id_after(cursor, "promotions")
