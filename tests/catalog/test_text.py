"""Folding for search: accents, case, ligatures and spaces never matter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loumo.catalog.text import fold, like_escape, slugify


def test_fold_examples() -> None:
    assert fold("  Crème   BRÛLÉE ") == "creme brulee"
    assert fold("Œufs") == "oeufs"
    assert fold("Ça coûte") == "ca coute"
    assert slugify("Pâtes & Riz") == "pates-riz"
    assert slugify("x" * 300, 50) == "x" * 50
    assert like_escape("100%_a\\b") == "100\\%\\_a\\\\b"


@given(st.text(max_size=60))
def test_fold_is_idempotent_and_lower_case(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert folded == folded.casefold()


@given(st.text(alphabet="aeiouc", max_size=30))
def test_accented_and_plain_fold_alike(text: str) -> None:
    accented = text.translate(str.maketrans("aeiouc", "àéîõüç"))
    assert fold(accented) == fold(text.upper()) == fold(text)
