"""Page numbers for the admin lists: `?page=N` (1 when absent or not a number in range),
a fixed page size, and the links the `pagination` macro (templates/admin/macros.html)
draws. A list fetches `pager.size + 1` rows from `pager.offset` and hands them to
`pager.window(rows)`: the extra row only tells that a next page exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlencode

from aiohttp import web

T = TypeVar("T")

MAX_PAGE = 1_000_000


@dataclass(frozen=True, slots=True)
class Window(Generic[T]):
    items: Sequence[T]
    page: int
    previous: str | None
    """The link to the page before (None on the first)."""
    next: str | None
    """The link to the page after (None on the last)."""


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
        page = min(max(page, 1), MAX_PAGE)
        kept = tuple((k, v) for k, v in request.query.items() if k not in {"page", "lang"})
        return cls(page, size, kept)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than shown."""
        return self.size + 1

    def link(self, page: int) -> str:
        return "?" + urlencode([*self.query, ("page", str(page))])

    def window(self, rows: Sequence[T]) -> Window[T]:
        more = len(rows) > self.size
        return Window(
            items=rows[: self.size],
            page=self.page,
            previous=self.link(self.page - 1) if self.page > 1 else None,
            next=self.link(self.page + 1) if more else None,
        )
