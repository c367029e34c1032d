"""The feed wired as `pbxbridge run` wires it: Asterisk's captured session over a fake AMI,
the rows in MariaDB, the feed on /healthz and /metrics."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from ami_listener import AmiHealth
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.ami_listener.conftest import until
from tests.conftest import Database
from tests.fakes.ami_asterisk import FakeAmi
from tests.telepony.conftest import WITHIN, capture_cdrs
from tests.web.test_health_metrics import get, sample


async def test_the_services_cdr_events_reach_mysql_health_and_metrics(
    sqlite_database: Database, clock: FixedClock, mysql_url: str, tmp_path: Path
) -> None:
    async with FakeAmi() as ami:
        settings = Settings(
            database={"url": sqlite_database.url},
            spool={"dir": tmp_path / "spool", "sounds_dir": tmp_path / "sounds"},
            agi={"port": 0},
            http={"port": 0},
            ami={"port": ami.port, "secret": SecretStr(ami.secret)},
            telepony={"url": mysql_url, "flush_interval": 0, "batch_size": 5},
        )
        async with open_core(settings, clock=clock) as core:
            service = Service(core)
            assert service.telepony is not None
            assert "telepony feed" in service._lifecycle.running
            await service.start()
            try:
                await until(
                    lambda: service.ami is not None and service.ami.health is AmiHealth.CONNECTED
                )
                sent = len(capture_cdrs())
                await ami.replay("queue")
                feed = service.telepony
                await feed.wait_until(lambda: feed.stats.written >= sent, WITHIN)

                assert service.web is not None
                status, body = await get(service.web.port, "/healthz")
                telepony = json.loads(body)["components"]["telepony"]
                assert telepony["status"] == "ok", telepony
                status, metrics = await get(service.web.port, "/metrics")
                assert status == 200
                assert sample(metrics, "pbxbridge_telepony_written_total") == sent
                assert sample(metrics, "pbxbridge_telepony_queued") == 0
                assert sample(metrics, "pbxbridge_telepony_up") == 1
            finally:
                await service.stop()
