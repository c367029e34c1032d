"""Pages of the admin lists, and the links the `pagination` macro (templates/admin/
macros.html) draws.

- `Pager` (`?page=N`): a short list held whole or fetched by offset (staff accounts,
  tokens). Fetch `pager.limit` rows from `pager.offset`, hand them to `pager.window(rows)`.
- `cursor_window(request, page)`: a list the REST API pages by cursor (campaigns, their
  numbers: `web.api.common.Page`, `?cursor=…`), so a page deep in 10,000 numbers costs
  what the first does. Links: the first page and the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlencode

from aiohttp import web

T = TypeVar("T")

MAX_PAGE = 1_000_000
NOT_KEPT = frozenset({"page", "cursor", "lang"})


@dataclass(frozen=True, slots=True)
class Window(Generic[T]):
    items: Sequence[T]
    page: int | None
    """The page's number (None for cursor pages)."""
    first: str | None
    """The link to the first page (cursor pages, past the first)."""
    previous: str | None
    next: str | None


def _kept(request: web.Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query.items() if k not in NOT_KEPT]


def _link(kept: Sequence[tuple[str, str]], *extra: tuple[str, str]) -> str:
    return "?" + urlencode([*kept, *extra])


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    size: int
    query: tuple[tuple[str, str], ...]
    """The request's other query values, kept in the links."""

    @classmethod
    def of(cls, request: web.Request, size: int = 50) -> Pager:
        raw = request.query.get("page", "1")
        page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 7 else 1
        return cls(min(max(page, 1), MAX_PAGE), size, tuple(_kept(request)))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than shown."""
        return self.size + 1

    def window(self, rows: Sequence[T]) -> Window[T]:
        more = len(rows) > self.size
        return Window(
            items=rows[: self.size],
            page=self.page,
            first=None,
            previous=_link(self.query, ("page", str(self.page - 1))) if self.page > 1 else None,
            next=_link(self.query, ("page", str(self.page + 1))) if more else None,
        )


def cursor_window(request: web.Request, items: Sequence[T], next_cursor: str | None) -> Window[T]:
    """A cursor page's window: `items` and the API page's `next`."""
    kept = _kept(request)
    return Window(
        items=items,
        page=None,
        first=_link(kept) if request.query.get("cursor") else None,
        previous=None,
        next=_link(kept, ("cursor", next_cursor)) if next_cursor else None,
    )
