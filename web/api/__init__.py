"""The REST API, `/api/v1/`: one aiohttp sub-application, bearer tokens, JSON, OpenAPI 3.1.

Resources are modules of this package, each with a `RouteTable` (web/api/routing.py);
`TABLES` lists them. The OpenAPI document is built once from the same declarations and
served publicly at `/api/v1/openapi.json`; it lists the token-protected operations only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from web.api import (
    callbacks,
    calls,
    campaign_audio,
    campaign_numbers,
    campaign_reports,
    campaigns,
    missed_calls,
    sms,
    subscribers,
)
from web.api.deps import API_DEPS, ApiDeps
from web.api.openapi import build_document
from web.api.routing import Route, RouteTable, aiohttp_handler
from web.middlewares import bearer_auth

PREFIX = "/api/v1"

TABLES: tuple[RouteTable, ...] = (
    subscribers.routes,
    callbacks.routes,
    campaigns.routes,
    campaign_numbers.routes,
    campaign_audio.routes,
    campaign_reports.routes,
    sms.routes,
    missed_calls.routes,
    calls.routes,
)
"""Every resource's routes. A new resource module adds its table here."""

OPENAPI = web.AppKey("openapi", bytes)

DESCRIPTION = (
    "pbxbridge's REST API. Every operation needs a bearer token made with "
    "`pbxbridge tokens create NAME [--scope S …]`. Errors are answered as "
    '`{"error": {"code", "message", "field"}}`. Lists are paged: `limit` and `cursor`, '
    'answered `{"items": [...], "next": cursor|null}`; dates are in the service\'s timezone.'
)

_public = RouteTable("meta")


@_public.get("/openapi.json", public=True)
async def openapi_document(request: web.Request) -> web.Response:
    """This API's OpenAPI 3.1 document."""
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


def _version() -> str:
    try:
        return version("pbxbridge")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


def routes(tables: Sequence[RouteTable] = TABLES) -> list[Route]:
    return [route for table in tables for route in table]


def document(tables: Sequence[RouteTable] = TABLES) -> dict[str, object]:
    return build_document(
        routes(tables),
        prefix=PREFIX,
        title="pbxbridge",
        version=_version(),
        description=DESCRIPTION,
    )


def build_api(deps: ApiDeps, tables: Sequence[RouteTable] = TABLES) -> web.Application:
    """The API sub-application, to mount at PREFIX."""
    api = web.Application(middlewares=[bearer_auth(deps.tokens)])
    api[API_DEPS] = deps
    api[OPENAPI] = json.dumps(document(tables)).encode()
    for route in [*routes(tables), *_public]:
        handler = aiohttp_handler(route, upload_limit=deps.max_upload_bytes, prefix=PREFIX)
        api.router.add_route(route.method, route.path, handler)
    return api
