"""The category tree: reads (the whole tree, one category) and staff writes.

Each category keeps its materialised `path` (`/root-id/…/own-id/`), so a subtree is one LIKE
and a move re-roots the subtree in one UPDATE.
"""

from __future__ import annotations

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.errors import CategoryCycle, TooDeep, UnknownCategory
from loumo.catalog.images import add_with_image, read_with_image, save_with_image
from loumo.catalog.models import Category, Product
from loumo.catalog.rows import get_category_row
from loumo.catalog.schemas import CategoryCreate, CategoryNode, CategoryRead, CategoryUpdate
from loumo.catalog.text import slug_for
from loumo.core.db import visible
from loumo.core.errors import Conflict
from loumo.core.ids import new_id
from loumo.media import service as media
from loumo.media.storage import Storage

MAX_PATH = 1024  # length of categories.path: about 30 levels
CONFLICT = "The category conflicts with an existing one"


async def category_tree(
    session: AsyncSession, *, include_inactive: bool, storage: Storage
) -> list[CategoryNode]:
    """The whole tree from one query; an inactive category hides its subtree from the public."""
    stmt = select(Category).order_by(Category.position, Category.name, Category.id)
    rows = (
        await session.scalars(visible(stmt, Category.is_active, include_inactive=include_inactive))
    ).all()
    nodes = {c.id: read_with_image(CategoryNode, c, storage) for c in rows}
    roots: list[CategoryNode] = []
    for c in rows:
        node = nodes[c.id]
        if c.parent_id is None:
            roots.append(node)
        elif c.parent_id in nodes:
            nodes[c.parent_id].children.append(node)
    return roots


async def get_category(
    session: AsyncSession, category_id: str, *, include_inactive: bool, storage: Storage
) -> CategoryRead:
    category = await get_category_row(session, category_id, include_inactive=include_inactive)
    return read_with_image(CategoryRead, category, storage)


async def _check_sibling_slug(
    session: AsyncSession, parent_id: str | None, slug: str, exclude_id: str | None
) -> None:
    stmt = select(Category.id).where(
        Category.slug == slug,
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id,
    )
    if exclude_id:
        stmt = stmt.where(Category.id != exclude_id)
    if await session.scalar(stmt.limit(1)):
        raise Conflict(f"A sibling category already has the slug '{slug}'", field="slug")


async def create_category(
    session: AsyncSession, data: CategoryCreate, *, storage: Storage
) -> CategoryRead:
    parent = None
    if data.parent_id is not None:
        parent = await session.get(Category, data.parent_id)
        if parent is None:
            raise UnknownCategory(f"No parent category {data.parent_id}", field="parent_id")
    slug = slug_for(data.slug, data.name)
    await _check_sibling_slug(session, data.parent_id, slug, None)
    category = Category(**data.model_dump(exclude={"slug"}), slug=slug)
    category.id = new_id()
    category.path = (parent.path if parent else "/") + category.id + "/"
    if len(category.path) > MAX_PATH:
        raise TooDeep("The category tree cannot be that deep", field="parent_id")
    await add_with_image(session, category, CONFLICT)
    return read_with_image(CategoryRead, category, storage)


async def update_category(
    session: AsyncSession, category_id: str, data: CategoryUpdate, *, storage: Storage
) -> CategoryRead:
    category = await get_category_row(session, category_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True)
    moving = "parent_id" in changes and changes["parent_id"] != category.parent_id
    parent_id = changes.get("parent_id", category.parent_id)
    if moving or "slug" in changes:
        await _check_sibling_slug(
            session, parent_id, changes.get("slug", category.slug), category.id
        )
    if moving:
        await _move(session, category, parent_id)
    await save_with_image(session, category, changes, CONFLICT)
    return read_with_image(CategoryRead, category, storage)


async def _move(session: AsyncSession, category: Category, parent_id: str | None) -> None:
    """Re-root the category's subtree under `parent_id` (None: the root)."""
    new_prefix = "/"
    if parent_id is not None:
        parent = await session.get(Category, parent_id)
        if parent is None:
            raise UnknownCategory(f"No parent category {parent_id}", field="parent_id")
        if parent.path.startswith(category.path):
            raise CategoryCycle(
                "A category cannot move under itself or one of its descendants",
                field="parent_id",
            )
        new_prefix = parent.path
    old_path, new_path = category.path, new_prefix + category.id + "/"
    deepest = await session.scalar(
        select(func.max(func.length(Category.path))).where(Category.path.like(old_path + "%"))
    )
    if (deepest or 0) - len(old_path) + len(new_path) > MAX_PATH:
        raise TooDeep("The category tree cannot be that deep", field="parent_id")
    # One UPDATE re-roots the whole subtree's materialised paths.
    await session.execute(
        update(Category)
        .where(Category.path.like(old_path + "%"))
        .values(path=literal(new_path) + func.substr(Category.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )
    await session.refresh(category)


async def delete_category(session: AsyncSession, category_id: str) -> None:
    category = await get_category_row(session, category_id, include_inactive=True)
    has_child = await session.scalar(select(Category.id).where(Category.parent_id == category.id))
    has_product = await session.scalar(
        select(Product.id).where(Product.category_id == category.id).limit(1)
    )
    if has_child or has_product:
        raise Conflict(
            "The category still has subcategories or products; move them or deactivate it"
        )
    await media.update_references(session, [category.image_key], [], field="image_key")
    await session.delete(category)
    await session.flush()
