"""End to end: FakeAmi replays the real capture over TCP, the real AmiClient frames and
dispatches it, the tracker records the two missed calls."""

from __future__ import annotations

from pydantic import SecretStr

from ami_listener import AmiClient, AmiSettings
from tests.fakes.ami_asterisk import DEFAULT_SECRET, FakeAmi
from tests.missed_calls.conftest import ABANDONED_QUEUE, MISSED_DIRECT, MakeTracker, Seen


async def test_the_capture_through_amiclient_and_fake_ami(make_tracker: MakeTracker) -> None:
    seen = Seen()
    tracker = make_tracker(on_missed=seen, flush_delay=0.1)
    async with FakeAmi() as fake:
        client = AmiClient(
            AmiSettings(
                host=fake.host,
                port=fake.port,
                secret=SecretStr(DEFAULT_SECRET),
                events="call,cdr,agent,user",
                ping_interval=30,
            )
        )
        client.add_consumer(tracker)  # what the root does
        await client.start()
        try:
            await fake.wait_for_logins(1)
            await fake.replay("queue", chunk_size=997)  # odd-sized writes: frames cut anywhere
            await seen.wait_for(2)
        finally:
            await client.stop()
    calls = await tracker.list()
    assert [(c.linkedid, c.number) for c in calls] == [
        (MISSED_DIRECT, "+380671234567"),
        (ABANDONED_QUEUE, "+380501112233"),
    ]
    assert sorted(c.linkedid for c in seen.calls) == [MISSED_DIRECT, ABANDONED_QUEUE]
    assert tracker.calls_in_progress == 0
