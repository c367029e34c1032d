"""What the admin lists of parts 3 and 4 share: the filter form read as the REST API's
query model and fetched by the API's own page function (web/api/*: one reading of dates,
numbers and states, one query in the room's store), and the notices of the pages.

    page, notices = await api_list(request, CallsQuery, calls_page, size=50)
    window = cursor_window(request, page.items if page else [], page.next if page else None)

A filter the API would refuse (a date that is no date, `until` before `since`, a number
that is none) is a notice above an empty list, never a crash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

from aiohttp import web
from pydantic import ValidationError

from web.admin.deps import admin_deps
from web.api.common import PageQuery
from web.api.deps import ApiDeps
from web.errors import ApiError
from web.i18n import Translate, translator
from web.pages import page_language

Q = TypeVar("Q", bound=PageQuery)
P = TypeVar("P")

Notices = list[tuple[str, str]]

LIST_MESSAGES: Final = {
    "bad_filter": "This filter cannot be used: %(fields)s.",
}
"""What the lists say in English (web/i18n.py has the Ukrainian)."""


def words(request: web.Request) -> Translate:
    """`_` in the page's language, for notices chosen in Python."""
    return translator(page_language(request))


async def api_list(
    request: web.Request,
    model: type[Q],
    fetch: Callable[[ApiDeps, Q], Awaitable[P]],
    *,
    size: int,
    **fixed: Any,
) -> tuple[P | None, Notices]:
    """The page `fetch` (the API's page function) gives for the request's filters read
    as the API's query `model` (`size` rows, `fixed` values set by the page itself; empty
    fields left out); None and a notice naming the fields the API would refuse."""
    given: dict[str, Any] = {
        k: v
        for k, v in request.query.items()
        if k in model.model_fields and k != "limit" and v.strip() != ""
    }
    given.update(fixed, limit=size)
    try:
        query = model.model_validate(given)
        return await fetch(admin_deps(request).api, query), []
    except ValidationError as exc:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
    except ApiError as exc:
        fields = exc.field or ""
    _ = words(request)
    return None, [("error", _(LIST_MESSAGES["bad_filter"], fields=fields or "?"))]


def said(request: web.Request, known: Mapping[str, str]) -> Notices:
    """The notice a redirect after a POST named in `?said=` (one of `known` only: nothing
    else from the URL is ever shown)."""
    key = request.query.get("said", "")
    if key not in known:
        return []
    kind = "error" if key.startswith("not_") else "ok"
    return [(kind, words(request)(known[key]))]
