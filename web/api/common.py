"""What every list in the API shares: pagination and date filters.

Pagination is by cursor: a list answers `{"items": [...], "next": "<cursor>"|null}`; to
get the following page, send the same query with `cursor=<next>`. Cursors are opaque to
clients (today: the last row id, encoded), so a resource may change how it pages without
breaking them. A list route's query model derives from `PageQuery` (and `DateQuery` when it
filters by date), its answer is `Page[Item]`:

    class CallbackQuery(PageQuery, DateQuery):
        number: str | None = None

    async def list_callbacks(request: web.Request, query: CallbackQuery) -> Page[CallbackOut]:
        since, until = query.bounds(clock)
        rows = ... WHERE id < query.after() (when given) ORDER BY id DESC LIMIT query.limit + 1
        return Page.of(items, more=len(rows) > query.limit, last_id=rows[query.limit - 1].id)

Dates: `since` and `until` take an ISO date (`2026-12-05`: the whole day in the service's
timezone) or date-time (`2026-12-05T14:00:00`, in the service's timezone when it has no
offset). `since` is inclusive, `until` exclusive for a date-time and inclusive of the whole
day for a date.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from primitives.clock import Clock
from web.api.routing import ApiInput
from web.errors import Invalid

T = TypeVar("T")

MAX_LIMIT = 500
MAX_ID = 2**31 - 1
"""Row ids are INTEGER (32 bits on PostgreSQL): a larger one in a path or a cursor is
refused (422), never handed to a query the database would fail."""
PHONE_PATTERN = r"^[0-9+()\-. ]+$"
"""What a phone number may be written with (the normaliser decides whether it is one)."""


# Inputs accept what the document says and nothing more: pydantic alone would also take
# " 5", "+5" and "5_000" for an integer, "yes" and "on" for true, and a number of seconds
# for a date-time, none of which a client reading the document would expect to work.

_INTEGER = re.compile(r"-?[0-9]{1,19}")
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
_OFFSET = r"(Z|[+-][0-9]{2}:[0-9]{2})?"
DATETIME_PATTERN = f"^{_DATE}T{_TIME}{_OFFSET}$"
"""ISO 8601 date-time; without an offset it is in the service's timezone (so not the
RFC 3339 `format: date-time`, which requires one)."""
DATE_OR_DATETIME_PATTERN = f"^{_DATE}(T{_TIME}{_OFFSET})?$"


def _integer(value: Any) -> Any:
    """A query or path integer: digits (and a minus) only."""
    if isinstance(value, str):
        if not _INTEGER.fullmatch(value):
            raise ValueError("not an integer")
        return int(value)
    return value


def _boolean(value: Any) -> Any:
    """A query boolean: `true` or `false`."""
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError("not true or false")
        return value == "true"
    return value


def _iso(value: Any, pattern: str) -> Any:
    if not isinstance(value, str) or re.fullmatch(pattern, value) is None:
        raise ValueError("not an ISO date-time (2026-12-05T14:00:00, maybe with an offset)")
    return value


def _datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(_iso(value, DATETIME_PATTERN))


def _date_or_datetime(value: Any) -> Any:
    """`2026-12-05` is a date, anything longer a date-time (pydantic alone would take a
    bare date for midnight of a date-time)."""
    if isinstance(value, date):
        return value
    text = _iso(value, DATE_OR_DATETIME_PATTERN)
    return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)


QueryInt = Annotated[int, BeforeValidator(_integer)]
QueryBool = Annotated[bool, BeforeValidator(_boolean)]
IsoDateTime = Annotated[
    datetime,
    BeforeValidator(_datetime),
    WithJsonSchema({"type": "string", "pattern": DATETIME_PATTERN}),
]
"""A date-time in a body: ISO 8601, the service's timezone when it has no offset."""
DateOrDateTime = Annotated[
    date | datetime,
    BeforeValidator(_date_or_datetime),
    WithJsonSchema({"type": "string", "pattern": DATE_OR_DATETIME_PATTERN}),
]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row id a cursor stands for; Invalid (422, field `cursor`) when it is not one
    of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind == "id" and value.isascii() and value.isdigit() and int(value) <= MAX_ID:
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise Invalid("not a cursor this API gave out", field="cursor")


class PageQuery(ApiInput):
    limit: QueryInt = Field(default=50, ge=1, le=MAX_LIMIT, description="Items per page.")
    cursor: str | None = Field(
        default=None, max_length=200, description="`next` of the previous page."
    )

    def after(self) -> int | None:
        """The row id the page continues from (rows are listed newest first), or None."""
        return decode_cursor(self.cursor) if self.cursor is not None else None

    def page(
        self, items: list[T], last_id: Callable[[T], int], *, kind: type[Page[T]] | None = None
    ) -> Page[T]:
        """The page of `items`, fetched with `limit + 1` so that one more says there is a
        next page (the extra one is dropped). `kind`: a named subclass of Page (its name is
        the schema's in the document)."""
        shown = items[: self.limit]
        more = len(items) > self.limit
        return (kind or Page).of(shown, more=more, last_id=last_id(shown[-1]) if shown else None)


class DateQuery(ApiInput):
    since: DateOrDateTime | None = Field(
        default=None, description="From this date or date-time on (service timezone)."
    )
    until: DateOrDateTime | None = Field(
        default=None, description="Up to this date (inclusive) or date-time (exclusive)."
    )

    def bounds(self, clock: Clock) -> tuple[datetime | None, datetime | None]:
        """`since` and `until` as UTC instants: rows with since <= at < until."""
        try:
            start = _instant(self.since, clock, end=False)
            end = _instant(self.until, clock, end=True)
        except OverflowError:
            raise Invalid("date out of range", field="since") from None
        if start is not None and end is not None and end < start:
            raise Invalid("until is before since", field="until")
        return start, end


def _instant(value: date | datetime | None, clock: Clock, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        local = value if value.tzinfo is not None else value.replace(tzinfo=clock.tz)
        return local.astimezone(UTC)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(), tzinfo=clock.tz).astimezone(UTC)


RowId = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_integer)]
"""A path's `{id}`: a row id, 1…MAX_ID."""


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first."""

    items: list[T]
    next: str | None = Field(description="Cursor of the next page; null on the last page.")

    @classmethod
    def of(cls, items: list[T], *, more: bool, last_id: int | None) -> Page[T]:
        cursor = encode_cursor(last_id) if more and last_id is not None else None
        return cls(items=items, next=cursor)
