"""Declaring an API route once: the aiohttp handler, its validation and its OpenAPI entry.

    routes = RouteTable("subscribers")

    @routes.get("/subscribers/{number}", scope=Scope.SUBSCRIBERS_READ, errors=(404, 503))
    async def get_subscriber(request: web.Request, path: NumberPath) -> Subscriber:
        \"\"\"Look a subscriber up by phone number.

        The rest of the docstring is the operation's description.\"\"\"

The handler's parameters say what it takes, by name: `path` (the `{…}` parts of the URL),
`query` (the query string) and `body` (a JSON body), each a pydantic model; the return
annotation is the answer: a model (sent as JSON with `status`), None (204), or a
`web.StreamResponse` the handler builds itself (then pass `media_type`, e.g. text/csv).
The wrapper validates each input with its model and answers 422 in the error shape naming
the field at fault, 400 for a body that is not JSON, 415 for one that is not
application/json. The same models make the operation in /api/v1/openapi.json
(web/api/openapi.py), so the document cannot drift from what is enforced.

`scope` is what the token needs (401 without a valid token, 403 without the scope);
`public=True` (only openapi.json) needs none. `max_body` overrides http.max_body_bytes for
one route: a number of bytes, or `UPLOAD` for http.max_upload_bytes; the limit middleware
refuses a larger Content-Length with 413. A route that takes a file instead of JSON names
the media types it reads in `uploads` (the document describes them: `application/
octet-stream` as raw bytes, `multipart/form-data` as a `file` field) and reads the body
itself (web/api/uploads.py). A route that creates something names its path in `location`
(`/campaigns/{id}`, filled from the answer): sent as `Location`, and in the document the
operation links to every operation below that path.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

from aiohttp import hdrs, web
from pydantic import BaseModel, ConfigDict, ValidationError

from web.errors import BadRequest, Invalid, UnsupportedMediaType
from web.middlewares import BODY_LIMIT_ATTR, ROUTE_ATTR
from web.tokens import Scope

Handler = Callable[..., Awaitable[Any]]
INPUTS = ("path", "query", "body")
UPLOAD: Literal["upload"] = "upload"
"""`max_body=UPLOAD`: the route takes bodies up to http.max_upload_bytes."""
MaxBody = int | Literal["upload"] | None


class ApiInput(BaseModel):
    """Base of path and query models: an unknown parameter is an error (a typo in a
    filter must not silently return everything)."""

    model_config = ConfigDict(extra="forbid")


class ApiBody(BaseModel):
    """Base of request bodies: unknown fields are refused, as in query strings, and JSON
    types are taken as they are (strict: `false` is no number, `"5"` no integer)."""

    model_config = ConfigDict(extra="forbid", strict=True)


@dataclass(frozen=True)
class Route:
    """One API operation, as declared (see the module docstring)."""

    method: str
    path: str
    """Relative to the API's prefix: `/subscribers/{number}`."""
    handler: Handler
    tag: str
    summary: str
    description: str
    scope: Scope | None
    """None only when `public`."""
    public: bool = False
    path_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    body_model: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    media_type: str = "application/json"
    errors: tuple[int, ...] = ()
    max_body: MaxBody = None
    uploads: tuple[str, ...] = ()
    """Media types of a file body the handler reads itself (no `body` model then)."""
    location: str | None = None
    """For a route that creates: the created thing's path (`/campaigns/{id}`), filled from
    the answer's fields."""

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    def error_statuses(self) -> list[int]:
        """Every error status this operation may answer, for its OpenAPI entry."""
        found = set(self.errors) | {500}
        if not self.public:
            found |= {401, 403}
        if self.path_model or self.query_model or self.body_model:
            found.add(422)
        if self.body_model is not None or self.uploads:
            found |= {400, 413, 415}
        return sorted(found)

    def body_limit(self, upload_limit: int) -> int | None:
        """The route's own body limit in bytes, or None for http.max_body_bytes."""
        if self.max_body == UPLOAD:
            return upload_limit
        return self.max_body if isinstance(self.max_body, int) else None


def _model(annotation: Any, where: str, name: str) -> type[BaseModel]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    raise TypeError(f"{name}: parameter {where!r} must be annotated with a pydantic model")


def _inputs(handler: Handler, name: str) -> dict[str, type[BaseModel]]:
    """The handler's inputs by name (`path`, `query`, `body`), each a pydantic model."""
    hints = typing.get_type_hints(handler)
    params = list(inspect.signature(handler).parameters)
    if not params or params[0] != "request":
        raise TypeError(f"{name}: the first parameter must be `request: web.Request`")
    unknown = set(params[1:]) - set(INPUTS)
    if unknown:
        raise TypeError(f"{name}: unknown parameters {sorted(unknown)} (use {INPUTS})")
    return {p: _model(hints.get(p), p, name) for p in params[1:]}


def _returned(handler: Handler) -> Any:
    return typing.get_type_hints(handler).get("return")


def _streams(handler: Handler) -> bool:
    """Whether the handler builds its own answer (a web.StreamResponse: CSV, a file)."""
    returned = _returned(handler)
    return isinstance(returned, type) and issubclass(returned, web.StreamResponse)


def _response(handler: Handler, name: str) -> type[BaseModel] | None:
    """The model the handler answers with; None for no body (204) or its own response."""
    returned = _returned(handler)
    if isinstance(returned, type) and issubclass(returned, BaseModel):
        return returned
    if returned is type(None) or returned is None or _streams(handler):
        return None
    raise TypeError(f"{name}: return a pydantic model, None or a web.StreamResponse")


def _summary(handler: Handler, name: str) -> tuple[str, str]:
    """The docstring's first line (the operation's summary) and the rest."""
    doc = inspect.getdoc(handler) or ""
    summary, _, description = doc.partition("\n")
    if not summary:
        raise ValueError(f"{name}: the docstring's first line is the operation's summary")
    return summary.strip(), description.strip()


def declare(
    handler: Handler,
    *,
    method: str,
    path: str,
    tag: str,
    scope: Scope | None,
    public: bool = False,
    status: int = 200,
    errors: Sequence[int] = (),
    media_type: str = "application/json",
    max_body: MaxBody = None,
    uploads: Sequence[str] = (),
    location: str | None = None,
) -> Route:
    """A Route from a handler's signature and docstring."""
    name = handler.__qualname__
    if (scope is None) != public:
        raise ValueError(f"{name}: give a scope, or public=True (and no scope)")
    models = _inputs(handler, name)
    response = _response(handler, name)
    if response is None and not _streams(handler):
        status = 204
    summary, description = _summary(handler, name)
    if "{" in path and "path" not in models:
        raise TypeError(f"{name}: {path} has parameters: declare `path: <model>`")
    if uploads and "body" in models:
        raise TypeError(f"{name}: a route takes a JSON `body` or `uploads`, not both")
    if location is not None and response is None:
        raise TypeError(f"{name}: `location` is filled from the answer: return a model")
    return Route(
        method=method.upper(),
        path=path,
        handler=handler,
        tag=tag,
        summary=summary,
        description=description,
        scope=scope,
        public=public,
        path_model=models.get("path"),
        query_model=models.get("query"),
        body_model=models.get("body"),
        response=response,
        status=status,
        media_type=media_type,
        errors=tuple(errors),
        max_body=max_body,
        uploads=tuple(uploads),
        location=location,
    )


@dataclass
class RouteTable:
    """The routes of one resource module; `web/api/__init__.py` mounts every table."""

    tag: str
    routes: list[Route] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        scope: Scope | None = None,
        public: bool = False,
        status: int = 200,
        errors: Sequence[int] = (),
        media_type: str = "application/json",
        max_body: MaxBody = None,
        uploads: Sequence[str] = (),
        location: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(
                declare(
                    handler,
                    method=method,
                    path=path,
                    tag=self.tag,
                    scope=scope,
                    public=public,
                    status=status,
                    errors=errors,
                    media_type=media_type,
                    max_body=max_body,
                    uploads=uploads,
                    location=location,
                )
            )
            return handler

        return register

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(hdrs.METH_GET, path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(hdrs.METH_POST, path, **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(hdrs.METH_PUT, path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(hdrs.METH_PATCH, path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(hdrs.METH_DELETE, path, **options)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)


# Validation ---------------------------------------------------------------------------


_UNION_TAGS = frozenset(
    {"str", "int", "float", "bool", "date", "datetime", "time", "decimal", "none", "list",
     "dict", "is-instance", "literal", "enum", "uuid"}
)  # fmt: skip
"""Parts pydantic adds to an error's location inside a union (`since.date`): not fields."""


def _field_name(loc: tuple[int | str, ...], where: str) -> str:
    """The input at fault: the parameter for path and query, the dotted field for a body
    (union member tags dropped)."""
    if not loc:
        return where
    if where != "body":
        return str(loc[0])
    parts = [str(loc[0])]
    for part in loc[1:]:
        text = str(part)
        if text in _UNION_TAGS or "[" in text:
            continue
        parts.append(text)
    return ".".join(parts)


def _invalid(exc: ValidationError, where: str) -> Invalid:
    problems = exc.errors(include_url=False, include_input=False)
    first = problems[0]
    name = _field_name(tuple(first["loc"]), where)
    others = {_field_name(tuple(p["loc"]), where) for p in problems[1:]} - {name}
    more = f" (and {len(others)} more)" if others else ""
    return Invalid(f"{where} {name}: {first['msg']}{more}", field=name)


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return any(_is_list(arg) for arg in get_args(annotation))


def query_values(model: type[BaseModel], request: web.Request) -> dict[str, Any]:
    """The query string as the model reads it: list fields take every value of their
    parameter, the others the last one; unknown parameters are kept (to be refused)."""
    lists = {
        info.alias or name for name, info in model.model_fields.items() if _is_list(info.annotation)
    }
    values: dict[str, Any] = {}
    for key in request.query:
        values[key] = request.query.getall(key) if key in lists else request.query.getall(key)[-1]
    return values


def validate(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, where) from None


async def read_body(model: type[BaseModel], request: web.Request) -> BaseModel:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    raw = await request.read()  # bounded by client_max_size: 413 above it
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise BadRequest("the body is not valid JSON") from None
        raise _invalid(exc, "body") from None


def aiohttp_handler(
    route: Route, *, upload_limit: int, prefix: str
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for `route`: inputs validated, the answer serialised.
    `upload_limit` is http.max_upload_bytes (for `max_body=UPLOAD`); `prefix` is where the
    API is mounted (for `Location`)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        inputs: dict[str, BaseModel] = {}
        if route.path_model is not None:
            inputs["path"] = validate(route.path_model, dict(request.match_info), "path")
        if route.query_model is not None:
            inputs["query"] = validate(
                route.query_model, query_values(route.query_model, request), "query"
            )
        if route.body_model is not None:
            inputs["body"] = await read_body(route.body_model, request)
        result = await route.handler(request, **inputs)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        assert isinstance(result, BaseModel)
        headers = {}
        if route.location is not None:
            headers[hdrs.LOCATION] = prefix + route.location.format_map(dict(result))
        return web.Response(
            status=route.status,
            body=result.model_dump_json().encode(),
            content_type="application/json",
            headers=headers,
        )

    handle.__name__ = route.operation_id
    handle.__doc__ = route.summary
    setattr(handle, ROUTE_ATTR, route)  # the auth middleware reads the scope here
    limit = route.body_limit(upload_limit)
    if limit is not None:
        setattr(handle, BODY_LIMIT_ATTR, limit)
    return handle
