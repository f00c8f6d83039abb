"""Accent- and case-folding for portable search, sorting and slugs.

The database never folds text itself (SQLite has no unaccent), so the service stores folded copies
and compares them with plain LIKE, which behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata

from loumo.core.errors import BadRequest

# Letters that Unicode does not decompose into a base letter plus accents.
_LIGATURES = str.maketrans(
    {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l"}
)
_SPACES = re.compile(r"\s+")
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced: 'Crème  Brûlée' -> 'creme brulee'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def slugify(text: str, max_length: int = 120) -> str:
    """A URL slug of at most `max_length` characters: 'Pâtes & Riz' -> 'pates-riz'."""
    return _NON_SLUG.sub("-", fold(text))[:max_length].strip("-")


def slug_for(slug: str | None, name: str, max_length: int = 120) -> str:
    """`slug` when the client gave one, else one made from `name` (400 when that is empty)."""
    slug = slug or slugify(name, max_length)
    if not slug:
        raise BadRequest("The name gives an empty slug; pass `slug`", field="slug")
    return slug


def like_escape(text: str) -> str:
    """Escape LIKE wildcards (with backslash as the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
