"""The API's pattern end to end: a real resource, the route helper's validation, the error
shape, the OpenAPI document, and the shared pagination and date filters."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate
from pydantic import Field

from primitives.clock import FixedClock
from tests.conftest import Database
from tests.web.conftest import OWNER, web_rig
from web.api import TABLES, document
from web.api.common import DateQuery, Page, PageQuery, decode_cursor, encode_cursor
from web.api.routing import ApiBody, RouteTable
from web.errors import Conflict, Invalid
from web.tokens import Scope

# A resource of the tests' own, declared as a real one would be.
echo = RouteTable("echo")


class Item(ApiBody):
    name: str = Field(min_length=1, max_length=20)
    count: int = Field(ge=0)


class EchoQuery(PageQuery, DateQuery):
    tag: list[str] = Field(default_factory=list)


class Echoed(ApiBody):
    name: str
    count: int
    tags: list[str]
    since: str | None
    until: str | None


@echo.post("/echo", scope=Scope.CAMPAIGNS, status=201, errors=(409,))
async def post_echo(request: web.Request, query: EchoQuery, body: Item) -> Echoed:
    """Echo an item back."""
    if body.name == "taken":
        raise Conflict("that name is taken", field="name")
    since, until = query.bounds(FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))
    return Echoed(
        name=body.name,
        count=body.count,
        tags=query.tag,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
    )


@echo.get("/boom", scope=Scope.CAMPAIGNS)
async def boom(request: web.Request) -> Echoed:
    """Fail the way a bug does."""
    raise RuntimeError("password=hunter2 in an internal message")


@echo.post("/upload", scope=Scope.CAMPAIGNS, max_body=64 * 1024)
async def upload(request: web.Request) -> None:
    """Take a larger body than the others."""
    await request.read()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_subscriber_by_any_written_form_of_the_number(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        token = await rig.token(Scope.SUBSCRIBERS_READ)
        for written in (OWNER, "0501110001", "380501110001", "+38 (050) 111-00-01"):
            answer = await client.get(f"/api/v1/subscribers/{written}", headers=auth(token))
            assert answer.status == 200, written
            assert await answer.json() == {
                "login": "ivan",
                "name": "Ivan",
                "status": "active",
                "status_code": 1,
                "balance": "12.50",
                "credit": "0.00",
                "credit_expire": None,
                "tariff": "",
                "fee": "0.00",
                "frozen": False,
                "disabled": False,
                "days_left": None,
                "phones": [OWNER],
                "source": "live",
                "unknown": [],
            }
        missing = await client.get("/api/v1/subscribers/0509999999", headers=auth(token))
        assert missing.status == 404
        assert await missing.json() == {
            "error": {
                "code": "not_found",
                "message": "no subscriber has +380509999999",
                "field": None,
            }
        }
        for junk in ("ivan", "12", "0501110001x"):
            invalid = await client.get(f"/api/v1/subscribers/{junk}", headers=auth(token))
            assert invalid.status == 422, junk
            error = (await invalid.json())["error"]
            assert (error["code"], error["field"]) == ("invalid", "number"), junk
            if junk == "12":  # digits, but no phone number
                assert error["message"] == "not a phone number"
        too_long = await client.get(f"/api/v1/subscribers/{'1' * 41}", headers=auth(token))
        assert too_long.status == 422
        assert (await too_long.json())["error"]["field"] == "number"
        wrong_method = await client.post(f"/api/v1/subscribers/{OWNER}", headers=auth(token))
        assert wrong_method.status == 405
        assert wrong_method.headers["Allow"] == "GET"
        assert (await wrong_method.json())["error"]["code"] == "method_not_allowed"
        nowhere = await client.get("/api/v1/nothing", headers=auth(token))
        assert nowhere.status == 404
        assert (await nowhere.json())["error"]["code"] == "not_found"


async def test_inputs_are_validated_by_their_models(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path, tables=(echo,)) as rig:
        client = await aiohttp_client(rig.app)
        headers = auth(await rig.token())

        async def post(url: str, **kwargs: Any) -> tuple[int, Any]:
            answer = await client.post(url, headers=headers, **kwargs)
            return answer.status, await answer.json()

        status, body = await post(
            "/api/v1/echo?tag=a&tag=b&since=2026-12-05&until=2026-12-05T18:00:00%2B00:00",
            json={"name": "x", "count": 2},
        )
        assert status == 201
        assert body == {
            "name": "x",
            "count": 2,
            "tags": ["a", "b"],
            "since": "2026-12-04T22:00:00+00:00",  # midnight in Kyiv
            "until": "2026-12-05T18:00:00+00:00",
        }
        status, body = await post("/api/v1/echo?until=2026-12-05", json={"name": "x", "count": 0})
        assert body["until"] == "2026-12-05T22:00:00+00:00"  # the whole day included

        problems = [
            ("/api/v1/echo", {"json": {"name": "x", "count": -1}}, 422, "count"),
            ("/api/v1/echo", {"json": {"name": "x"}}, 422, "count"),
            ("/api/v1/echo", {"json": {"name": "x", "count": 1, "extra": 1}}, 422, "extra"),
            ("/api/v1/echo?limit=0", {"json": {"name": "x", "count": 1}}, 422, "limit"),
            ("/api/v1/echo?colour=red", {"json": {"name": "x", "count": 1}}, 422, "colour"),
            ("/api/v1/echo?since=yesterday", {"json": {"name": "x", "count": 1}}, 422, "since"),
            ("/api/v1/echo?since=2026-12-06&until=2026-12-04", {"json": {"name": "x", "count": 1}},
             422, "until"),
            ("/api/v1/echo?cursor=bm9wZQ", {"json": {"name": "x", "count": 1}}, 201, None),
            ("/api/v1/echo", {"data": b"{not json", "headers": {"Content-Type":
             "application/json"}}, 400, None),
            ("/api/v1/echo", {"data": b"name=x"}, 415, None),
            ("/api/v1/echo", {"json": {"name": "taken", "count": 1}}, 409, "name"),
        ]  # fmt: skip
        for url, options, expected, field in problems:
            extra: dict[str, Any] = dict(options)  # type: ignore[call-overload]
            if "headers" in extra:
                extra["headers"] = {**headers, **extra["headers"]}
                answer = await client.post(url, **extra)
                status, body = answer.status, await answer.json()
            else:
                status, body = await post(url, **extra)
            assert status == expected, (url, options, body)
            if expected >= 400:
                assert set(body) == {"error"}
                assert body["error"]["field"] == field, (url, body)


async def test_a_bug_is_500_without_internals_and_logged_with_the_request_id(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    aiohttp_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path, tables=(echo,)) as rig:
        client = await aiohttp_client(rig.app)
        answer = await client.get("/api/v1/boom", headers=auth(await rig.token()))
        assert answer.status == 500
        request_id = answer.headers["X-Request-Id"]
        body = await answer.json()
        assert body == {
            "error": {
                "code": "internal",
                "message": f"internal error (request id {request_id}; the service log has the "
                "details)",
                "field": None,
            }
        }
        assert "hunter2" not in await answer.text()
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert request_id in failure.getMessage()
    assert failure.exc_info is not None


async def test_a_route_may_take_a_larger_body(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(
        sqlite_database, clock, tmp_path, tables=(echo,), max_body_bytes=2048
    ) as rig:
        client = await aiohttp_client(rig.app)
        headers = auth(await rig.token())
        taken = await client.post("/api/v1/upload", data=b"x" * 50_000, headers=headers)
        assert taken.status == 204
        over = await client.post("/api/v1/upload", data=b"x" * 70_000, headers=headers)
        assert over.status == 413

        # Without a Content-Length (chunked), aiohttp's client_max_size still stops it.
        async def chunks() -> Any:
            for _ in range(10):
                yield b"x" * 1024

        chunked = await client.post(
            "/api/v1/echo", data=chunks(), headers={**headers, "Content-Type": "application/json"}
        )
        assert chunked.status == 413
        assert (await chunked.json())["error"]["code"] == "payload_too_large"


async def test_the_openapi_document(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        answer = await client.get("/api/v1/openapi.json")  # public: no token
        assert answer.status == 200
        spec = await answer.json()
    validate(spec)  # OpenAPI 3.1, by openapi-spec-validator
    assert spec["openapi"] == "3.1.0"
    assert spec == document(TABLES)
    assert "/openapi.json" not in spec["paths"]  # openapi.json itself not listed
    assert set(spec["paths"]) >= {
        "/subscribers/{number}",
        "/callbacks",
        "/campaigns/{id}/report.csv",
        "/sms",
        "/missed-calls/stats",
    }
    # Path ids say their bounds as JSON Schema (a client learns them; schemathesis tests them).
    (cid,) = spec["paths"]["/callbacks/{id}"]["get"]["parameters"]
    assert cid["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    # What creates links on to what it created, and says where it is.
    created = spec["paths"]["/campaigns"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]
    assert created["links"]["start_campaign"] == {
        "operationId": "start_campaign",
        "parameters": {"id": "$response.body#/id"},
    }
    # An upload takes the raw file or a form with a `file` field.
    upload = spec["paths"]["/campaigns/{id}/audio"]["put"]["requestBody"]["content"]
    assert upload["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}
    assert upload["multipart/form-data"]["schema"]["required"] == ["file"]
    csv_answer = spec["paths"]["/campaigns/{id}/report.csv"]["get"]["responses"]["200"]
    assert list(csv_answer["content"]) == ["text/csv"]
    op = spec["paths"]["/subscribers/{number}"]["get"]
    assert op["security"] == [{"bearer": []}]
    assert op["x-scope"] == "subscribers:read"
    assert op["parameters"][0]["name"] == "number"
    assert op["parameters"][0]["in"] == "path"
    assert sorted(op["responses"]) == ["200", "401", "403", "404", "422", "500", "503"]
    error_ref = op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    error = spec["components"]["schemas"][error_ref.rsplit("/", 1)[1]]
    assert error["required"] == ["error"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_document_of_a_list_with_bodies() -> None:
    spec = document((echo,))
    validate(spec)
    op = spec["paths"]["/echo"]["post"]  # type: ignore[index]
    names = [p["name"] for p in op["parameters"]]
    assert sorted(names) == ["cursor", "limit", "since", "tag", "until"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Item")
    assert sorted(op["responses"]) == [
        "201", "400", "401", "403", "409", "413", "415", "422", "500"
    ]  # fmt: skip


def test_pages_and_cursors() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert decode_cursor(encode_cursor(2**31 - 1)) == 2**31 - 1
    too_big = encode_cursor(2**31)  # PostgreSQL's INTEGER ends at 2**31 - 1
    for junk in ("", "x", encode_cursor(1)[:-1] + "!", "aWQ6LTE", too_big):  # aWQ6LTE = "id:-1"
        with pytest.raises(Invalid):
            decode_cursor(junk)
    page = Page[int].of([3, 2], more=True, last_id=2)
    assert page.next is not None
    assert decode_cursor(page.next) == 2
    assert Page[int].of([1], more=False, last_id=1).next is None
    assert PageQuery(cursor=encode_cursor(7)).after() == 7
    assert PageQuery().after() is None


def test_dates_are_days_in_the_service_timezone() -> None:
    clock = FixedClock(datetime(2026, 7, 1, tzinfo=UTC))  # Kyiv is UTC+3 in summer
    query = DateQuery.model_validate({"since": "2026-07-01", "until": "2026-07-01"})
    assert query.since == date(2026, 7, 1)
    assert query.bounds(clock) == (
        datetime(2026, 6, 30, 21, tzinfo=UTC),
        datetime(2026, 7, 1, 21, tzinfo=UTC),
    )
    naive = DateQuery.model_validate({"since": "2026-07-01T10:00:00"})
    assert naive.bounds(clock)[0] == datetime(2026, 7, 1, 7, tzinfo=UTC)
    with pytest.raises(Invalid):
        DateQuery.model_validate({"until": "9999-12-31"}).bounds(clock)
