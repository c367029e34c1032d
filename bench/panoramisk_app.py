"""(b) askozianum on panoramisk 1.4's FastAGI `Application`, the way one would write it
with that library: an async handler, one shared aiosqlite connection, a raw SQL query.

It answers exactly what pbxbridge's askozianum answers (same four variables, same
values) from the same SQLite file:

* the number: `?number=`, else agi_arg_1, else the CallerID (`unknown` counts as none),
  normalised with phonenumbers to E.164, region UA, as `primitives.phones` does;
* one SELECT joining billing_subscribers and billing_subscriber_phones;
* the status by Ubilling's rule (`billing_client.rules.status_of`): 3 when frozen or
  disabled, else 1 when balance >= -(credit in force), else 2; a credit is in force while
  it is > 0 and today (Europe/Kyiv) <= its expiry date.

panoramisk 1.4 routes on the whole `agi_network_script`, query included (defect P4 in
the reference), so `askozianum?mode=test&x=1` would find no route. The load generator
sends the same environment block to every server; here the routing table is a mapping
whose lookup drops the query (`QueryBlindRoutes`). Everything else is panoramisk's own
code: its header reading, `Request.send_command` and reply parsing.

Run: python bench/panoramisk_app.py --database /tmp/x/billing.db --port 4574
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import aiosqlite
import phonenumbers
from panoramisk import fast_agi

log = logging.getLogger("bench.panoramisk")

REGION = "UA"
ZONE = ZoneInfo("Europe/Kyiv")
_ALLOWED = re.compile(r"[0-9+()\-. ]{1,40}")
_QUOTE = str.maketrans({"\\": "\\\\", '"': '\\"', "\r": " ", "\n": " ", "\0": " "})

QUERY = """
SELECT s.login, s.balance_cents, s.credit_cents, s.credit_expire, s.frozen, s.disabled
FROM billing_subscribers AS s
JOIN billing_subscriber_phones AS p ON p.subscriber_id = s.id
WHERE p.phone = ?
"""


class QueryBlindRoutes(OrderedDict[str, Any]):
    """panoramisk's route table, looked up by the path of agi_network_script only."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.partition("?")[0].strip("/"), default)


def normalise(raw: str) -> str | None:
    text = raw.strip(" \t")
    if not text or not _ALLOWED.fullmatch(text):
        return None
    try:
        parsed = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def status_of(
    balance_cents: int,
    credit_cents: int,
    credit_expire: str | None,
    frozen: int,
    disabled: int,
    today: date,
) -> int:
    if frozen or disabled:
        return 3
    in_force = (
        credit_cents > 0
        and credit_expire is not None
        and today <= date.fromisoformat(credit_expire[:10])
    )
    return 1 if balance_cents >= -(credit_cents if in_force else 0) else 2


def lookup_number(headers: dict[str, str]) -> str:
    script = headers.get("agi_network_script", "")
    query = dict(parse_qsl(script.partition("?")[2], keep_blank_values=True))
    callerid = headers.get("agi_callerid", "")
    return (
        query.get("number")
        or headers.get("agi_arg_1", "")
        or ("" if callerid == "unknown" else callerid)
    )


def askozianum_route(db: aiosqlite.Connection) -> Callable[[Any], Awaitable[None]]:
    """The handler, a plain `async def`: panoramisk 1.4 wraps anything else with
    `asyncio.coroutine`, which Python 3.11 no longer has (defect P5)."""

    async def askozianum(request: Any) -> None:
        await answer(db, request)

    return askozianum


async def answer(db: aiosqlite.Connection, request: Any) -> None:
    number = normalise(lookup_number(request.headers))
    row = None
    if number is not None:
        async with db.execute(QUERY, (number,)) as cursor:
            row = await cursor.fetchone()
    if row is None:
        values = (("SUBSCRIBER_STATUS", "0"), ("SUBSCRIBER_LOGIN", ""))
        result = "NOTFOUND"
    else:
        login, balance, credit, expire, frozen, disabled = row
        today = datetime.now(ZONE).date()
        status = status_of(balance, credit, expire, frozen, disabled, today)
        values = (("SUBSCRIBER_STATUS", str(status)), ("SUBSCRIBER_LOGIN", login))
        result = "OK"
    source = "live" if number is not None else "none"  # no phone number: nothing asked
    for name, value in (*values, ("BILLING_RESULT", result), ("BILLING_SOURCE", source)):
        await request.send_command(f'SET VARIABLE {name} "{value.translate(_QUOTE)}"')


async def serve(database: str, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with aiosqlite.connect(database) as db:
        await db.execute("PRAGMA busy_timeout=30000")
        app = fast_agi.Application()
        app._route = QueryBlindRoutes()
        app.add_route("askozianum", askozianum_route(db))
        server = await asyncio.start_server(app.handler, host, port)
        async with server:
            await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True, help="the SQLite file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.database, args.host, args.port))


if __name__ == "__main__":
    main()
