"""pbxbridge's remoteapi face against what a real Ubilling answered, byte for byte.

The 97 requests of tests/fixtures/ubilling-live-responses.md (§5) are sent, in order, to
pbxbridge's face serving the same subscribers from its embedded billing (conftest
`reference_billing`), with money moves on. Every body must be the recorded one, except the
rows listed in DEVIATIONS (each with the body pbxbridge answers instead and why) and in
NOT_COMPARABLE (a state of the Ubilling install pbxbridge has no counterpart for). Where
Ubilling changed its state by a request pbxbridge does not serve (setpause, setunpause,
addusermobile), the test makes the same change through pbxbridge's admin, so that the
rows after it still compare what they compare in the recording.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pbxbridge.app import Core
from primitives.clock import FixedClock
from tests.askozia_api.conftest import KEY, reference_billing
from tests.conftest import Database
from tests.web.conftest import web_rig

FIXTURE = Path(__file__).parent.parent / "fixtures" / "ubilling-live-responses.md"
_ROW = re.compile(r"^\| (\d+) \| `([^`]*)` \| (\d{3}) \| (.*) \| (.*) \|$")


@dataclass(frozen=True)
class Recorded:
    number: int
    query: str
    status: int
    body: str | None
    """None for the HTML login page, which the recording summarises."""


def recorded() -> list[Recorded]:
    rows = []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        cell = match.group(4)
        body = cell[1:-1] if cell.startswith("`") and cell.endswith("`") else None
        rows.append(
            Recorded(
                int(match.group(1)),
                match.group(2).replace("{KEY}", KEY),
                int(match.group(3)),
                body,
            )
        )
    return rows


def without(*pairs: tuple[str, str]) -> Callable[[str], str]:
    """A deviation that is the recorded body with some fields rewritten."""

    def rewrite(body: str) -> str:
        for old, new in pairs:
            assert old in body, old
            body = body.replace(old, new)
        return body

    return rewrite


NO_PASSWORD_1 = ('"Password":"pass0001",', "")
NO_CONTRACT_1 = ('"contract":"10001"', '"contract":null')

DEVIATIONS: dict[int, tuple[str | Callable[[str], str], str]] = {
    2: ("ERROR:GET_NO_KEY", "identify would reveal 4 characters of the key: not served"),
    3: ("ERROR:GET_NO_KEY", "no key: the documented envelope error, not Ubilling's web UI"),
    8: ("", "an unknown action: the empty body Ubilling's code prints, not its web UI"),
    9: ("ERROR: EMPTY PARAM", "askozianum is served (removed from Ubilling), number in param="),
    42: (without(NO_PASSWORD_1, NO_CONTRACT_1), "no Password; pbxbridge keeps no contract"),
    43: (without(NO_PASSWORD_1, NO_CONTRACT_1), "no Password; pbxbridge keeps no contract"),
    44: ('{"ERROR":"Auth failed"}', "pbxbridge keeps no subscriber passwords to check"),
    47: (
        without(('"Password":"pass0002",', ""), ('"contract":"10002"', '"contract":null')),
        "no Password; pbxbridge keeps no contract",
    ),
    49: ("[null]", "pbxbridge keeps no contracts: the subscriber's is null"),
    53: ("45", "pbxbridge's days left: 150 at 100 a 30-day month; Ubilling counts whole months"),
    63: (
        without(
            ('"Password":"pass0001",', ""),
            ('"ip":"172.16.0.1"', '"ip":null'),
            ('"contract":"10001"', '"contract":null'),
        ),
        "no Password; pbxbridge keeps no IP or contract",
    ),
    79: ("ERROR: NOT OUR USER", "setpause is not served (default branch, no number)"),
    81: ("ERROR: NOT OUR USER", "setpause is not served (default branch, no number)"),
    82: ("ERROR: MISTAKE PARAMETR", "setunpause is not served (default branch, number known)"),
    83: ("ERROR: MISTAKE PARAMETR", "setunpause is not served (default branch, number known)"),
    85: ("ERROR: NOT OUR USER", "addusermobile is not served (default branch, number unknown)"),
    86: ("ERROR: MISTAKE PARAMETR", "addusermobile is not served (number known by now)"),
    87: ("ERROR: NOT OUR USER", "addusermobile is not served (default branch, number unknown)"),
}

NOT_COMPARABLE = {
    90: "Stargazer stopped: Ubilling claims success and changes nothing",
    91: "Stargazer stopped",
    92: "Stargazer stopped",
    93: "ASTERISK_ENABLED=0 in alter.ini",
    94: "TELEPONY_ENABLED=0",
    95: "USERBYNUM_ENABLED=0",
    96: "REMOTEAPI_ENABLED=0",
}


def _after(core: Core) -> dict[int, Callable[[], Awaitable[Any]]]:
    """What Ubilling's own handling of a request pbxbridge does not serve changed."""
    assert core.local is not None
    local = core.local
    return {
        79: lambda: local.set_frozen("testuser1", True, actor="test"),
        82: lambda: local.set_frozen("testuser1", False, actor="test"),
        85: lambda: local.edit("testuser1", phones=["0501110001", "0671110001"], actor="test"),
    }


async def test_bodies_are_ubillings_for_the_same_data(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    rows = recorded()
    assert [r.number for r in rows] == list(range(1, 98))
    async with web_rig(database, clock, tmp_path, remoteapi_key=KEY, remoteapi_money=True) as rig:
        await reference_billing(rig.core)
        after = _after(rig.core)
        client = await aiohttp_client(rig.app)
        compared = differing = 0
        for row in rows:
            if row.number in NOT_COMPARABLE:
                continue
            answer = await client.get("/" + row.query)
            body = await answer.text()
            assert answer.status == 200, (row.number, answer.status, body)
            deviation = DEVIATIONS.get(row.number)
            if deviation is None:
                assert row.body is not None, row.number
                assert body == row.body, (row.number, row.query, body)
                compared += 1
            else:
                want, _why = deviation
                expected = want if isinstance(want, str) else want(row.body or "")
                assert body == expected, (row.number, row.query, body)
                assert row.body is None or body != row.body, f"row {row.number} now matches"
                differing += 1
            if "action=userbynum" in row.query and body.startswith("{"):
                assert answer.headers["Content-Type"] == "application/json; charset=UTF-8"
                assert answer.headers["Access-Control-Allow-Origin"] == "*"
            else:
                assert answer.headers["Content-Type"] == "text/html; charset=UTF-8"
            if row.number in after:
                await after[row.number]()
        served = 97 - len(NOT_COMPARABLE)
        assert (compared, differing) == (served - len(DEVIATIONS), len(DEVIATIONS))


async def test_the_same_at_billing(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    """Ubilling's URL is usually http://host/billing/: the face answers there too."""
    async with web_rig(sqlite_database, clock, tmp_path, remoteapi_key=KEY) as rig:
        await reference_billing(rig.core)
        client = await aiohttp_client(rig.app)
        for prefix in ("/", "/billing/"):
            answer = await client.get(
                f"{prefix}?module=remoteapi&key={KEY}&action=asterisk&number=0501110002"
                "&param=userstatus"
            )
            assert (answer.status, await answer.text()) == (200, "2")
        assert (await client.get("/billing")).status == 404
