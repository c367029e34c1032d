"""The errors of the HTTP room, as one tree (httpx's `_exceptions.py` is the model), and the
one JSON shape every /api/ error is answered in:

    PbxbridgeError               (primitives.errors)
    └── WebError                 anything the HTTP room refuses or cannot do
        ├── TokenError           a token cannot be created or revoked as asked (the CLI says why)
        ├── StaffError           a staff account cannot be made or changed as asked (web/staff.py)
        └── ApiError             status, code, message, field; rendered as ErrorBody
            ├── BadRequest           400 bad_request      (unreadable JSON, wrong content type)
            ├── Unauthorized         401 unauthorized     (no token, unknown or revoked token)
            ├── Forbidden            403 forbidden        (the token lacks the route's scope)
            ├── NotFound             404 not_found
            ├── MethodNotAllowed     405 method_not_allowed
            ├── Conflict             409 conflict
            ├── PayloadTooLarge      413 payload_too_large
            ├── UnsupportedMediaType 415 unsupported_media_type (a body that is not JSON)
            ├── Invalid              422 invalid          (validation; `field` names the input)
            ├── RateLimited          429 rate_limited     (with Retry-After)
            ├── InternalError        500 internal         (never says what broke: see the log)
            └── Unavailable          503 unavailable      (a part the answer needs is down)

A handler raises an ApiError; the error middleware (web/middlewares.py) turns it, and
aiohttp's own HTTP exceptions on /api/ paths, into

    {"error": {"code": "not_found", "message": "no subscriber has 0501234567", "field": null}}

Messages are for a person and carry no token, key, password or internals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from primitives.errors import PbxbridgeError


class ErrorDetail(BaseModel):
    model_config = ConfigDict(title="ErrorDetail")

    code: str = Field(description="Stable, machine-readable: not_found, invalid, forbidden …")
    message: str = Field(description="What went wrong, for a person.")
    field: str | None = Field(
        description="The input at fault (a path, query or body field, dotted), or null."
    )


class ErrorBody(BaseModel):
    """Every /api/ error answer."""

    model_config = ConfigDict(title="Error")

    error: ErrorDetail


class WebError(PbxbridgeError):
    """Base of every error of the HTTP room."""


class TokenError(WebError):
    """A token cannot be created or revoked as asked (the message says why)."""


class StaffError(WebError):
    """A staff account cannot be made or changed as asked (the message says why)."""


class ApiError(WebError):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return error_response(
            self.status, self.code, self.message, field=self.field, headers=self.headers
        )


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="pbxbridge"'})


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class Invalid(ApiError):
    status, code = 422, "invalid"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class InternalError(ApiError):
    status, code = 500, "internal"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


ERRORS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        Invalid,
        RateLimited,
        InternalError,
        Unavailable,
    )
}
"""Status → class; the OpenAPI document describes each error status with its code."""


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = {"error": {"code": code, "message": message, "field": field}}
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers=headers,
    )


def from_http_exception(exc: web.HTTPException) -> web.Response:
    """aiohttp's own 4xx/5xx (unknown path, wrong method, body over client_max_size) in
    the error shape; the headers that matter (Allow) are kept."""
    known = ERRORS.get(exc.status)
    code = known.code if known is not None else f"http_{exc.status}"
    message = exc.reason
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        message = exc.text or "request body too large"
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
    return error_response(exc.status, code, message, headers=headers)
