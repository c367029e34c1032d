"""/admin/status: the same facts as /healthz and the counters of /metrics, escaped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from primitives.clock import FixedClock
from primitives.health import Health
from tests.conftest import Database
from tests.web.adminclient import Staff, add_user
from tests.web.conftest import web_rig
from web.health import HEALTH
from web.staff import Role

HOSTILE = '<img src=x onerror="alert(1)">'


@dataclass(frozen=True)
class HostileCheck:
    """A part whose reason carries markup (a peer's banner, an error text)."""

    name: str = "modem"

    async def health(self) -> Health:
        return Health.degraded(HOSTILE)


async def test_status_shows_what_healthz_says_and_the_counters(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        rig.app[HEALTH].add(HostileCheck(), critical=False)
        await add_user(rig, "ivanka", Role.OPERATOR)
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("ivanka")
        assert 'href="/admin/status"' in await browser.page("/admin/")
        page = await browser.page("/admin/status")
        healthz = json.loads(await (await browser.client.get("/healthz")).text())
        for name, part in healthz["components"].items():
            assert f'id="part-{name}"' in page
            row = page.split(f'id="part-{name}"', 1)[1].split("</tr>", 1)[0]
            assert f'class="state-{part["status"]}"' in row
        assert f'id="overall">{healthz["status"]}<' in page
        # The reason is shown as text, never as markup.
        assert HOSTILE not in page
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
        # Counters from /metrics' registry: FastAGI's and the billing's.
        assert "pbxbridge_agi_sessions" in page
        assert "pbxbridge_billing_requests" in page or "pbxbridge_billing_stale_numbers" in page
        assert "Billing backend: local." in page
        assert "pbxbridge_http_request" not in page  # not the HTTP histogram
