"""The OpenAPI 3.1 document of /api/v1/, built from the declared routes (web/api/routing.py).

Hand-written because it is small: pydantic already writes JSON Schema 2020-12, which is
OpenAPI 3.1's own schema dialect, so all that is left is laying the routes out as paths
and operations. (The aiohttp libraries that do this either generate 3.0, bring class-based
views and their own error shape, or need a newer Python.)

Schemas of bodies and answers go to `components/schemas` (one `models_json_schema` call, so
nested models and enums are shared and named once); path and query models become
parameters, one per field. Every error status is described by the one error shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web.api.routing import Route
from web.errors import ERRORS, ErrorBody

REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearer"
Mode = Literal["validation", "serialization"]


def _ref_name(ref: dict[str, Any]) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[-1]


def _parameters(
    model: type[BaseModel] | None, where: str, refs: dict[Any, Any], defs: dict[str, Any]
) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = defs[_ref_name(refs[(model, "validation")])]
    required = set(schema.get("required", ()))
    params = []
    for name, declared in schema.get("properties", {}).items():
        prop = dict(declared)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        if prop.get("type") == "array":
            param["style"], param["explode"] = "form", True
        params.append(param)
    return params


def _error_response(status: int, error: dict[str, Any]) -> dict[str, Any]:
    known = ERRORS.get(status)
    code = f" (`{known.code}`)" if known is not None else ""
    response: dict[str, Any] = {
        "description": f"{HTTPStatus(status).phrase}{code}",
        "content": {"application/json": {"schema": error}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}
        }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}
        }
    return response


def _file_schema(media: str) -> dict[str, Any]:
    """A file body: raw bytes, or a form with the file in its `file` field."""
    binary = {"type": "string", "format": "binary"}
    if media == "multipart/form-data":
        return {"type": "object", "properties": {"file": binary}, "required": ["file"]}
    return binary


def _operation(route: Route, refs: dict[Any, Any], defs: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
    }
    if route.description:
        op["description"] = route.description
    if route.scope is not None:
        op["description"] = (
            op.get("description", "") + f"\n\nScope: `{route.scope.value}`."
        ).strip()
        op["x-scope"] = route.scope.value
    params = _parameters(route.path_model, "path", refs, defs) + _parameters(
        route.query_model, "query", refs, defs
    )
    if params:
        op["parameters"] = params
    if route.body_model is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body_model, "validation")]}},
        }
    elif route.uploads:
        op["requestBody"] = {
            "required": True,
            "content": {media: {"schema": _file_schema(media)} for media in route.uploads},
        }
    success: dict[str, Any] = {"description": HTTPStatus(route.status).phrase}
    if route.response is not None:
        success["content"] = {route.media_type: {"schema": refs[(route.response, "serialization")]}}
    elif route.status != 204:
        success["content"] = {route.media_type: {"schema": {"type": "string"}}}
    if route.location is not None:
        success["headers"] = {
            "Location": {
                "schema": {"type": "string"},
                "description": f"Where it is now: {route.location} (under the server URL).",
            }
        }
    responses = {str(route.status): success}
    for status in route.error_statuses():
        responses[str(status)] = _error_response(status, refs[(ErrorBody, "serialization")])
    op["responses"] = responses
    op["security"] = [] if route.public else [{SECURITY_SCHEME: []}]
    return op


def _links(location: str, routes: Iterable[Route]) -> dict[str, Any]:
    """From an operation that creates (its answer's `id`, also in `Location`) to every
    operation on what it created: how a client (and schemathesis's stateful phase) goes on."""
    links: dict[str, Any] = {}
    for other in routes:
        if other.path == location or other.path.startswith(location + "/"):
            links[other.operation_id] = {
                "operationId": other.operation_id,
                "parameters": {"id": "$response.body#/id"},
            }
    return links


def _models(
    routes: Iterable[Route],
) -> tuple[list[tuple[type[BaseModel], Mode]], set[type[BaseModel]]]:
    """Every model the document describes (with the mode it is read in), and those laid out
    as path and query parameters."""
    wanted: list[tuple[type[BaseModel], Mode]] = [(ErrorBody, "serialization")]
    params: set[type[BaseModel]] = set()
    for route in routes:
        for model in (route.path_model, route.query_model):
            if model is not None:
                wanted.append((model, "validation"))
                params.add(model)
        if route.body_model is not None:
            wanted.append((route.body_model, "validation"))
        if route.response is not None:
            wanted.append((route.response, "serialization"))
    return list(dict.fromkeys(wanted)), params


def _drop_parameter_models(
    defs: dict[str, Any], refs: dict[Any, Any], params: set[type[BaseModel]]
) -> None:
    """Path and query models were laid out as parameters: their own schemas are not needed
    (unless an answer or a body uses the same model)."""
    used = {_ref_name(refs[key]) for key in refs if key[0] not in params}
    for model in params:
        name = _ref_name(refs[(model, "validation")])
        if name not in used:
            defs.pop(name, None)


def build_document(
    routes: Iterable[Route], *, prefix: str, title: str, version: str, description: str = ""
) -> dict[str, Any]:
    """The whole document; `prefix` (`/api/v1`) is the server URL, paths are below it."""
    routes = sorted(routes, key=lambda r: (r.path, r.method))
    wanted, params = _models(routes)
    refs, top = models_json_schema(wanted, ref_template=REF)
    defs: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs, defs)
    for route in routes:
        if route.location is not None:
            success = paths[route.path][route.method.lower()]["responses"][str(route.status)]
            success["links"] = _links(route.location, routes)
    _drop_parameter_models(defs, refs, params)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": prefix}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(defs.items())),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `pbxbridge tokens create NAME`.",
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }
