"""`/api/v1/missed-calls`: missed calls in pages with date, recalled and number filters, and
the daily statistics WhyDoYouCall keeps; rows written by the missed-calls store itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from missed_calls.calls import Missed
from missed_calls.store import MissedCallStore
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.web.apiclient import Api
from tests.web.conftest import web_rig
from web.tokens import Scope

CALLER = "+380501112233"
OTHER = "+380504445566"


def missed(number: str, waited: int = 20) -> Missed:
    return Missed(number, number, True, "support", 1, waited)


async def test_missed_calls_and_their_statistics(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        api = Api(client, await rig.token(Scope.CALLS_READ))
        store = MissedCallStore(rig.core.sessions, clock)
        day1 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 10:00 in Kyiv
        calls = [
            (CALLER, day1),
            (OTHER, day1 + timedelta(hours=1)),
            (CALLER, day1 + timedelta(days=1)),  # 2026-11-22 10:00 Kyiv
        ]
        for n, (number, at) in enumerate(calls, start=1):
            await store.insert(f"L-{n}", missed(number), at=at, ended_at=at + timedelta(seconds=20))
        # Staff called the first one back 30 minutes later.
        recalled = await store.mark_recalled(
            [CALLER], at=day1 + timedelta(minutes=30), by="L-9", window=timedelta(hours=1)
        )
        assert recalled == 1

        listed = await api.get("/missed-calls")
        assert [c["id"] for c in listed["items"]] == [3, 2, 1]
        first = listed["items"][2]
        assert first == {
            "id": 1,
            "number": CALLER,
            "number_valid": True,
            "at": "2026-11-21T08:00:00Z",
            "waited_seconds": 20,
            "queue": "support",
            "queue_position": 1,
            "login": None,
            "name": None,
            "status": None,
            "lookup": "pending",
            "recalled_at": "2026-11-21T08:30:00Z",
            "seconds_to_recall": 1800,
            "linkedid": "L-1",
        }

        async def ids(query: str) -> list[int]:
            return [c["id"] for c in (await api.get(f"/missed-calls?{query}"))["items"]]

        assert await ids("recalled=true") == [1]
        assert await ids("recalled=false") == [3, 2]
        assert await ids("number=050%20111%2022%2033") == [3, 1]  # any written form
        assert await ids("since=2026-11-22") == [3]
        assert await ids("until=2026-11-21") == [2, 1]
        assert await ids("since=2026-11-21T10:30:00&until=2026-11-21T12:00:00") == [2]
        page = await api.get("/missed-calls?limit=2")
        assert await ids(f"limit=2&cursor={page['next']}") == [1]

        stats = await api.get("/missed-calls/stats?days=2")  # the clock's today: 2026-11-22
        assert stats == {
            "days": [
                {
                    "day": "2026-11-21",
                    "missed": 2,
                    "missed_numbers": 2,
                    "recalled": 1,
                    "open": 1,
                    "unsuccessful_attempts": 0,
                    "average_recall_seconds": 1800.0,
                },
                {
                    "day": "2026-11-22",
                    "missed": 1,
                    "missed_numbers": 1,
                    "recalled": 0,
                    "open": 1,
                    "unsuccessful_attempts": 0,
                    "average_recall_seconds": None,
                },
            ],
            "missed": 3,
            "recalled": 1,
        }
        assert len((await api.get("/missed-calls/stats"))["days"]) == 7

        for path, field in (
            ("/missed-calls?number=12", "number"),
            ("/missed-calls?recalled=yes", "recalled"),
            ("/missed-calls/stats?days=0", "days"),
            ("/missed-calls/stats?days=367", "days"),
            ("/missed-calls/stats?days=7.0", "days"),
        ):
            assert await api.fails("GET", path, 422) == ("invalid", field), path
        sms_only = Api(client, await rig.token(Scope.SMS, name="sms"))
        assert await sms_only.fails("GET", "/missed-calls", 403) == ("forbidden", None)
        assert await sms_only.fails("GET", "/missed-calls/stats", 403) == ("forbidden", None)
