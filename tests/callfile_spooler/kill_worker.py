"""The spooler as a process of its own, for the kill -9 test: runs campaign `kill` to the end.

python -m tests.callfile_spooler.kill_worker DATABASE_URL SPOOL_DIR
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from callfile_spooler.settings import SpoolSettings
from callfile_spooler.spooler import Spooler
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, session_factory

CAMPAIGN = "kill"


async def main(url: str, spool: Path) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    settings = SpoolSettings(dir=spool, poll_interval=0.02, fsync=True)
    spooler = Spooler(session_factory(engine), Clock(), PhoneNormaliser("UA"), settings)
    await spooler.start()
    try:
        while True:  # the campaign's state is in the database: look now and then
            if (await spooler.campaigns.get(CAMPAIGN)).state == "done":
                break
            await asyncio.sleep(0.05)
    finally:
        await spooler.stop()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
