"""The runner of running parts: start in order, stop in reverse, each stop bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from primitives.lifecycle import Hooks, Lifecycle, Part

LOG = logging.getLogger("pbxbridge.test.lifecycle")


class Recorder:
    """Parts that write what happens to them into one shared journal."""

    def __init__(self) -> None:
        self.journal: list[str] = []

    def part(
        self,
        name: str,
        *,
        fail_start: bool = False,
        fail_stop: bool = False,
        hang_stop: bool = False,
    ) -> Hooks:
        async def start() -> None:
            if fail_start:
                raise OSError(f"{name}: port in use")
            self.journal.append(f"start {name}")

        async def stop() -> None:
            self.journal.append(f"stop {name}")
            if hang_stop:
                await asyncio.Event().wait()
            if fail_stop:
                raise RuntimeError(f"{name}: broke while stopping")

        return Hooks(start=start, stop=stop)

    @asynccontextmanager
    async def context(self, name: str) -> AsyncIterator[None]:
        self.journal.append(f"enter {name}")
        try:
            yield
        finally:
            self.journal.append(f"exit {name}")


class Plain:
    """A component of its own class (start/stop methods), like the AMI client."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    async def start(self) -> list[int]:  # what start() returns is not the runner's business
        self.journal.append("start plain")
        return [1]

    async def stop(self) -> None:
        self.journal.append("stop plain")


async def test_parts_start_in_order_and_stop_in_reverse() -> None:
    rec = Recorder()
    lifecycle = Lifecycle(
        [
            Part("a", rec.part("a")),
            Part("off", None),
            Part("ctx", rec.context("ctx")),
            Part("plain", Plain(rec.journal)),
            Part("b", rec.part("b")),
        ],
        LOG,
    )
    assert lifecycle.running == ["a", "ctx", "plain", "b"]
    await lifecycle.start()
    await lifecycle.start()  # already running: nothing more
    assert rec.journal == ["start a", "enter ctx", "start plain", "start b"]
    await lifecycle.stop()
    await lifecycle.stop()  # stopped: nothing more
    assert rec.journal[4:] == ["stop b", "stop plain", "exit ctx", "stop a"]


async def test_a_part_that_fails_to_start_stops_the_ones_started() -> None:
    rec = Recorder()
    lifecycle = Lifecycle(
        [
            Part("a", rec.part("a")),
            Part("b", rec.part("b")),
            Part("c", rec.part("c", fail_start=True)),
        ],
        LOG,
    )
    with pytest.raises(OSError, match="port in use"):
        await lifecycle.start()
    assert rec.journal == ["start a", "start b", "stop b", "stop a"]
    await lifecycle.stop()  # nothing left to stop
    assert len(rec.journal) == 4


async def test_an_overrunning_stop_is_cut_off_and_named_and_the_rest_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    lifecycle = Lifecycle(
        [
            Part("ami", rec.part("ami")),
            Part("spooler", rec.part("spooler", hang_stop=True), stop_within=0.01),
            Part("fastagi", rec.part("fastagi")),
        ],
        LOG,
    )
    await lifecycle.start()
    await asyncio.wait_for(lifecycle.stop(), 5)
    assert rec.journal[3:] == ["stop fastagi", "stop spooler", "stop ami"]
    assert "spooler did not stop within 0.01 s; cut off" in caplog.text


async def test_a_stop_that_raises_is_logged_and_the_rest_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    lifecycle = Lifecycle([Part("a", rec.part("a")), Part("b", rec.part("b", fail_stop=True))], LOG)
    async with lifecycle:
        pass
    assert rec.journal == ["start a", "start b", "stop b", "stop a"]
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.getMessage() == "b: stop failed"
    assert record.exc_info is not None


async def test_a_timeout_raised_by_the_stop_itself_is_a_failure_not_an_overrun(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def stop() -> None:
        raise TimeoutError("the peer did not answer")

    async with Lifecycle([Part("peer", Hooks(stop=stop), stop_within=60)], LOG):
        pass
    assert "peer: stop failed" in caplog.text
    assert "did not stop within" not in caplog.text


async def test_the_body_failing_still_stops_everything() -> None:
    rec = Recorder()
    with pytest.raises(ValueError, match="boom"):
        async with Lifecycle([Part("a", rec.part("a")), Part("b", rec.part("b"))], LOG):
            raise ValueError("boom")
    assert rec.journal == ["start a", "start b", "stop b", "stop a"]
