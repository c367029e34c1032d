"""What every request goes through, in one place.

On the root application (web/app.py), outermost first:

1. `observe`: gives the request an id (answered in X-Request-Id, written in every log
   line about it), resolves the client's address once (web/addresses.py), turns errors
   into answers (the JSON error shape on /api/ paths, plain text elsewhere; an unexpected
   exception is logged with the request id and answered 500 without internals), counts
   the request by route and status (web/metrics.py) and logs it at DEBUG.
2. `limit_body`: a Content-Length over the route's limit is refused with 413 before the
   body is read. The limit is http.max_body_bytes (also aiohttp's client_max_size, which
   bounds bodies sent without a length), or the route's own (`body_limit(n)`: an upload).

`security_headers` is a response-prepare signal, not a middleware, so that it reaches
every answer: errors, aiohttp's own, streamed ones, WebSocket handshakes.

On the API application (web/api/__init__.py): `bearer_auth`, the token and its scope.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from web.addresses import client_ip
from web.errors import (
    ApiError,
    Forbidden,
    PayloadTooLarge,
    Unauthorized,
    error_response,
    from_http_exception,
)
from web.metrics import Metrics
from web.settings import HttpSettings
from web.tokens import ApiToken, TokenStore

log = logging.getLogger("pbxbridge.web")

_H = TypeVar("_H", bound=Callable[..., Any])

API_PREFIX = "/api/"
"""Errors on these paths are answered in the JSON error shape."""
FRAMEABLE = "/callback"
"""The one page other sites may frame (http.callback_frame_ancestors); all others: none."""

REQUEST_ID = web.RequestKey("request_id", str)
TOKEN = web.RequestKey("api_token", ApiToken)
"""The authenticated token of an /api/v1/ request."""
ACTOR = web.RequestKey("actor", str)
"""Who makes the changes of an authenticated request, as the rooms record it:
`api:<token name>` (bearer_auth), `staff:<user>` (the admin pages' middleware)."""

ROUTE_ATTR = "pbxbridge_api_route"
"""Set on an API handler: its web.api.routing.Route (scope, public)."""
BODY_LIMIT_ATTR = "pbxbridge_max_body"


def body_limit(limit: int) -> Callable[[_H], _H]:
    """Let one handler take bodies up to `limit` bytes (uploads) instead of
    http.max_body_bytes. Such a handler reads its body as a stream (`request.multipart()`)
    or with `await request.read()`, which the limit middleware allows up to `limit`."""

    def mark(handler: _H) -> _H:
        setattr(handler, BODY_LIMIT_ATTR, limit)
        return handler

    return mark


def is_api(request: web.BaseRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def route_label(request: web.Request) -> str:
    """The route's canonical path (`/api/v1/subscribers/{number}`), never the raw URL, so
    metrics stay bounded whatever clients send; `unmatched` for 404 and 405."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _plain(exc: web.HTTPException) -> web.Response:
    return web.Response(status=exc.status, reason=exc.reason, text=exc.text, headers=exc.headers)


def _internal(request: web.Request, request_id: str) -> web.Response:
    message = f"internal error (request id {request_id}; the service log has the details)"
    if is_api(request):
        return error_response(500, "internal", message)
    return web.Response(status=500, text=message)


def observe(metrics: Metrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = secrets.token_hex(8)
        request[REQUEST_ID] = request_id
        peer = client_ip(request)
        started = time.perf_counter()
        try:
            response = await handler(request)
        except ApiError as exc:
            response = (
                exc.response()
                if is_api(request)
                else web.Response(status=exc.status, text=exc.message, headers=exc.headers)
            )
        except web.HTTPException as exc:
            if is_api(request) and exc.status >= 400:
                response = from_http_exception(exc)
            else:
                response = _plain(exc)
        except Exception:
            log.exception(
                "HTTP %s: %s %s from %s failed", request_id, request.method, request.path, peer
            )
            response = _internal(request, request_id)
        elapsed = time.perf_counter() - started
        route = route_label(request)
        metrics.observe_http(route, request.method, response.status, elapsed)
        log.debug(
            "HTTP %s: %s %s (%s) from %s: %d in %.1f ms",
            request_id,
            request.method,
            request.path,
            route,
            peer,
            response.status,
            elapsed * 1000,
        )
        return response

    return middleware


def limit_body(default: int) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        limit: int = getattr(request.match_info.handler, BODY_LIMIT_ATTR, default)
        length = request.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(f"request body too large (limit {limit:,} bytes)")
        if limit != default:
            request = request.clone(client_max_size=limit)
        return await handler(request)

    return middleware


def security_headers(
    settings: HttpSettings,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The on_response_prepare handler: security headers on every answer. A handler may
    set its own Content-Security-Policy; the frame policy is the settings'."""
    ancestors = " ".join(["'self'", *settings.callback_frame_ancestors])
    framed_csp = f"default-src 'self'; frame-ancestors {ancestors}"

    async def prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        path = request.path
        if path == FRAMEABLE or path.startswith(FRAMEABLE + "/"):
            headers.setdefault("Content-Security-Policy", framed_csp)
            if settings.callback_frame_ancestors:
                # X-Frame-Options cannot name other sites; CSP says it for browsers that read it.
                headers.popall("X-Frame-Options", None)
            else:
                headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        else:
            headers.setdefault(
                "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"
            )
            headers.setdefault("X-Frame-Options", "DENY")
        if path.startswith(API_PREFIX):
            headers.setdefault(hdrs.CACHE_CONTROL, "no-store")
        request_id = request.get(REQUEST_ID)
        if request_id is not None:
            headers.setdefault("X-Request-Id", request_id)

    return prepare


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def bearer_auth(tokens: TokenStore) -> Middleware:
    """Every route of the API application needs a live token holding the route's scope,
    except those declared public; an unknown path or method also needs a token (401, not
    404 or 405: the anonymous learn nothing about what exists)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = getattr(request.match_info.handler, ROUTE_ATTR, None)
        if route is not None and route.public:
            return await handler(request)
        presented = _bearer(request)
        if presented is None:
            raise Unauthorized("send a token: Authorization: Bearer <token>")
        token = await tokens.authenticate(presented)
        if token is None:
            raise Unauthorized("the token is not valid (unknown, malformed or revoked)")
        if route is not None and route.scope is not None and not token.allows(route.scope):
            raise Forbidden(f"the token {token.name!r} lacks the scope {route.scope.value!r}")
        request[TOKEN] = token
        request[ACTOR] = f"api:{token.name}"
        return await handler(request)

    return middleware
