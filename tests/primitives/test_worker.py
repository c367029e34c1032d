"""The one worker loop, driven through injected time: every wait is a sleep the test ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from primitives.backoff import Backoff
from primitives.worker import Worker

LOG = logging.getLogger("pbxbridge.test.worker")
WITHIN = 5.0  # seconds a test waits for the loop to reach a point (never a sleep)


class SteppedTime:
    """A monotonic clock and a sleep that ends only when the test passes the time.

    `asked` records every sleep the worker asked for; `pass_time()` ends the one under way
    and moves the clock by it. No real second passes.
    """

    def __init__(self) -> None:
        self.now = 100.0
        self.asked: list[float] = []
        self.sleeping = asyncio.Event()
        self._wakeup: asyncio.Future[None] | None = None

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        self._wakeup = asyncio.get_running_loop().create_future()
        self.sleeping.set()
        try:
            await self._wakeup
            self.now += seconds
        finally:
            self._wakeup = None
            self.sleeping.clear()

    async def pass_time(self) -> None:
        await asyncio.wait_for(self.sleeping.wait(), WITHIN)
        assert self._wakeup is not None
        self._wakeup.set_result(None)
        await asyncio.sleep(0)


@dataclass
class Script:
    """A step that answers from a script (a delay, None, or an exception to raise) and
    lets the test wait for its n-th call."""

    answers: list[float | Exception | None]
    calls: int = 0
    called: asyncio.Condition = field(default_factory=asyncio.Condition)
    hold: asyncio.Event | None = None
    """Set: each call waits for it (a step in flight)."""

    async def __call__(self) -> float | None:
        self.calls += 1
        async with self.called:
            self.called.notify_all()
        if self.hold is not None:
            await self.hold.wait()
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def reached(self, calls: int) -> None:
        async with asyncio.timeout(WITHIN), self.called:
            await self.called.wait_for(lambda: self.calls >= calls)


@pytest.fixture
def time() -> SteppedTime:
    return SteppedTime()


@pytest.fixture
async def workers() -> AsyncIterator[list[Worker]]:
    made: list[Worker] = []
    yield made
    for worker in made:
        await worker.stop(0)


MakeWorker = Callable[..., Worker]


@pytest.fixture
def make(time: SteppedTime, workers: list[Worker]) -> MakeWorker:
    def build(step: Script, **options: object) -> Worker:
        worker = Worker(
            "test worker",
            step,
            log=LOG,
            monotonic=time.monotonic,
            sleep=time.sleep,
            **options,  # type: ignore[arg-type]
        )
        workers.append(worker)
        return worker

    return build


async def test_it_waits_what_the_step_asks_and_zero_means_at_once(
    make: MakeWorker, time: SteppedTime
) -> None:
    step = Script([2.5, 0, 0, 7.0])
    make(step).start()
    await step.reached(1)
    await time.pass_time()  # 2.5 s
    await step.reached(4)  # the two zeros ran without a sleep
    await asyncio.wait_for(time.sleeping.wait(), WITHIN)
    assert time.asked == [2.5, 7.0]
    assert time.now == 102.5


async def test_none_waits_for_a_wake_up_without_sleeping(
    make: MakeWorker, time: SteppedTime
) -> None:
    step = Script([None])
    worker = make(step)
    worker.start()
    await step.reached(1)
    for _ in range(20):
        await asyncio.sleep(0)
    assert step.calls == 1
    worker.wake()
    await step.reached(2)
    assert time.asked == []


async def test_a_wake_up_cuts_the_wait_short(make: MakeWorker, time: SteppedTime) -> None:
    step = Script([60.0])
    worker = make(step)
    worker.start()
    await asyncio.wait_for(time.sleeping.wait(), WITHIN)
    worker.wake()
    await step.reached(2)
    assert time.now == 100.0  # the 60 s never passed
    assert time.asked[0] == 60.0


async def test_a_wake_up_during_the_step_runs_it_again(make: MakeWorker) -> None:
    """Work queued while the step finds nothing (it already looked) is not left waiting."""
    step = Script([None])
    step.hold = asyncio.Event()
    worker = make(step)
    worker.start()
    await step.reached(1)
    worker.wake()  # new work while the step is busy
    step.hold.set()
    await step.reached(2)


async def test_start_after_a_delay(make: MakeWorker, time: SteppedTime) -> None:
    step = Script([None])
    make(step).start(delay=5.0)
    await asyncio.wait_for(time.sleeping.wait(), WITHIN)
    assert step.calls == 0
    await time.pass_time()
    await step.reached(1)
    assert time.asked == [5.0]


async def test_a_failing_streak_logs_one_traceback_and_backs_off(
    make: MakeWorker, time: SteppedTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOG.name)
    told: list[str] = []

    async def on_error(exc: BaseException) -> None:
        told.append(f"down: {exc}")

    async def on_recovered() -> None:
        told.append("up")

    step = Script([RuntimeError("db gone"), RuntimeError("db gone"), RuntimeError("db gone"), 9.0])
    worker = make(step, retry=Backoff(1.0, 3.0), on_error=on_error, on_recovered=on_recovered)
    worker.start()
    for _ in range(3):
        await time.pass_time()
    await step.reached(4)
    await asyncio.wait_for(time.sleeping.wait(), WITHIN)
    assert time.asked == [1.0, 2.0, 3.0, 9.0]  # the retry backoff, then the step's own delay
    assert told == ["down: db gone", "up"]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert errors[0].getMessage() == "test worker failed"
    assert errors[0].exc_info is not None  # the traceback, once
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG] == [
        "test worker failed again: RuntimeError: db gone"
    ] * 2
    assert "test worker works again after 3 failure(s)" in caplog.text
    assert worker.status().failures == 0
    assert worker.status().last_error is None


async def test_status_tells_the_streak(make: MakeWorker, time: SteppedTime) -> None:
    step = Script([ValueError("bad row"), ValueError("bad row"), None])
    worker = make(step, retry=4.0)
    worker.start()
    await step.reached(1)
    await asyncio.wait_for(time.sleeping.wait(), WITHIN)
    status = worker.status()
    assert (status.name, status.running, status.failures) == ("test worker", True, 1)
    assert status.failing_since == 100.0
    assert status.last_error == "ValueError: bad row"
    await time.pass_time()
    await step.reached(2)
    await asyncio.wait_for(time.sleeping.wait(), WITHIN)
    assert worker.status().failures == 2
    assert worker.status().failing_since == 100.0  # the streak began then
    assert worker.status().last_step_at == 104.0


async def test_redact_scrubs_the_traceback(
    make: MakeWorker, time: SteppedTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOG.name)
    secret = "123456:AAsecretTOKEN"
    step = Script([RuntimeError(f"GET https://api/bot{secret}/send failed"), None])
    make(step, redact=lambda text: text.replace(secret, "***")).start()
    await time.pass_time()
    await step.reached(2)
    rendered = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert "bot***/send" in rendered
    assert secret not in rendered


async def test_a_failing_hook_is_logged_and_the_loop_goes_on(
    make: MakeWorker, time: SteppedTime, caplog: pytest.LogCaptureFixture
) -> None:
    async def on_error(exc: BaseException) -> None:
        raise OSError("alert channel down")

    step = Script([RuntimeError("x"), None])
    make(step, on_error=on_error).start()
    await time.pass_time()
    await step.reached(2)
    assert "test worker: error hook failed" in caplog.text


async def test_stop_ends_a_wait_at_once(make: MakeWorker, time: SteppedTime) -> None:
    step = Script([3600.0])
    worker = make(step)
    worker.start()
    await asyncio.wait_for(time.sleeping.wait(), WITHIN)
    assert await asyncio.wait_for(worker.stop(10), WITHIN) is True
    assert not worker.running
    assert step.calls == 1


async def test_stop_lets_the_step_in_flight_finish(make: MakeWorker) -> None:
    step = Script([0])
    step.hold = asyncio.Event()
    worker = make(step)
    worker.start()
    await step.reached(1)
    stopping = asyncio.create_task(worker.stop(60))
    await asyncio.sleep(0)
    assert worker.stopping
    assert not stopping.done()
    step.hold.set()  # the step finishes its work
    assert await asyncio.wait_for(stopping, WITHIN) is True
    assert step.calls == 1  # and the loop did not run it again (it asked for "at once")


async def test_stop_cancels_a_step_that_overruns_the_deadline(
    make: MakeWorker, caplog: pytest.LogCaptureFixture
) -> None:
    step = Script([None])
    step.hold = asyncio.Event()  # never set: a step stuck on a peer
    worker = make(step)
    worker.start()
    await step.reached(1)
    assert await asyncio.wait_for(worker.stop(0.01), WITHIN) is False
    assert not worker.running
    assert "test worker: still busy 0.01 s after stop; cancelled" in caplog.text


async def test_stop_with_no_deadline_cancels_at_once_quietly(
    make: MakeWorker, caplog: pytest.LogCaptureFixture
) -> None:
    step = Script([None])
    step.hold = asyncio.Event()
    worker = make(step)
    worker.start()
    await step.reached(1)
    assert await worker.stop(0) is False
    assert not worker.running
    assert caplog.records == []


async def test_a_stop_cut_short_from_outside_leaves_nothing_running(make: MakeWorker) -> None:
    """The notifier bounds stop-and-flush as a whole; its timeout cancels `stop()`."""
    step = Script([None])
    step.hold = asyncio.Event()
    worker = make(step)
    worker.start()
    await step.reached(1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await worker.stop()
    assert not worker.running
    assert await worker.stop(0) is True


async def test_a_step_may_stop_its_own_worker() -> None:
    worker: Worker | None = None

    async def last_step() -> float:
        assert worker is not None
        assert await worker.stop(5) is True
        return 0

    worker = Worker("self-stopping", last_step, log=LOG)
    worker.start()
    async with asyncio.timeout(WITHIN):
        while worker.running:  # noqa: ASYNC110 - polling a plain condition
            await asyncio.sleep(0)


async def test_a_step_without_io_does_not_starve_the_loop() -> None:
    progress = 0  # another task's, seen by each step
    seen: list[int] = []
    worker: Worker | None = None

    async def busy() -> float:
        seen.append(progress)
        if len(seen) == 20:
            assert worker is not None
            await worker.stop()
        return 0

    async def other_task() -> None:
        nonlocal progress
        while True:
            progress += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_task())
    worker = Worker("busy", busy, log=LOG)
    worker.start()
    async with asyncio.timeout(WITHIN):
        while worker.running:  # noqa: ASYNC110 - polling a plain condition
            await asyncio.sleep(0)
    other.cancel()
    assert len(seen) == 20
    assert seen[-1] > seen[0]  # the other task ran between the steps


async def test_it_starts_again_after_a_stop(make: MakeWorker, time: SteppedTime) -> None:
    step = Script([None])
    worker = make(step)
    worker.start()
    worker.start()  # already running: nothing more
    await step.reached(1)
    await worker.stop(1)
    worker.start()
    await step.reached(2)
    assert worker.running
