"""The one background loop: run a step, wait as long as it says, again, until stopped.

    worker = Worker("sms outbox", outbox_step, log=log, retry=Backoff.fixed(poll))
    worker.start()          # the first step at once (or `start(delay=…)`)
    worker.wake()           # new work: the wait under way ends now
    await worker.stop(10)   # the step in flight gets 10 s to finish, then it is cancelled

The step is a coroutine function saying when it wants to run next: a number of seconds
(0 or less: at once), or None: not until `wake()`. A wake-up that comes while the step
runs is kept, so the next wait ends at once: no work slips between a step that found
nothing and the wait after it. A step may look at `stopping` to cut a long pass short.

A step that raises is a failure. The first failure of a streak is logged with its
traceback (at ERROR) and passed to `on_error`; the ones after it in the same streak are
logged at DEBUG only (a database gone for an hour writes one traceback, not thousands).
The loop waits `retry` (a Backoff: fixed or growing) and runs the step again; the first
step that returns normally ends the streak (logged at INFO, `on_recovered` called).
`redact` scrubs the traceback text of a component that holds a secret (a bot token).

Time is injected: `sleep` does every wait (raced against `wake()`/`stop()`), `monotonic`
dates the status, so tests drive the loop through virtual time and never sleep. The
deadline of `stop()` is real seconds: it bounds a shutdown, which happens in real time.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from primitives.backoff import Backoff

Step = Callable[[], Awaitable[float | None]]
"""One pass of the work; seconds until the next pass (<= 0: at once), None: until woken."""
Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]
OnError = Callable[[BaseException], Awaitable[None]]
OnRecovered = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """A snapshot for health pages and metrics. Times are the worker's `monotonic()`."""

    name: str
    running: bool
    failures: int
    """Failures in a row of the current streak (0: the last step worked)."""
    failing_since: float | None
    last_error: str | None
    """`Type: message` of the last failure of the current streak."""
    last_step_at: float | None
    """When the last step (worked or failed) ended."""


class Worker:
    def __init__(
        self,
        name: str,
        step: Step,
        *,
        log: logging.Logger,
        retry: Backoff | float = 1.0,
        on_error: OnError | None = None,
        on_recovered: OnRecovered | None = None,
        redact: Callable[[str], str] | None = None,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self._step = step
        self._log = log
        self._retry = retry if isinstance(retry, Backoff) else Backoff.fixed(retry)
        self._on_error = on_error
        self._on_recovered = on_recovered
        self._redact = redact
        self._monotonic = monotonic
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._failing_since: float | None = None
        self._last_error: str | None = None
        self._last_step_at: float | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Worker({self.name!r}, {state}, {self._retry.failures} failure(s))"

    # ------------------------------------------------------------------ control

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def stopping(self) -> bool:
        """`stop()` was called: a long step may return early."""
        return self._stopping

    def start(self, *, delay: float | None = 0.0) -> None:
        """Start the loop: the first step after `delay` seconds (None: at the first wake-up).

        Starting a running worker does nothing; a stopped one starts again."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(delay), name=self.name)

    def wake(self) -> None:
        """Run the step now: the wait under way ends (or the next one, if a step runs)."""
        self._wake.set()

    async def stop(self, deadline: float | None = None) -> bool:
        """Stop the loop; True when it ended by itself, False when it had to be cancelled.

        A wait ends at once; a step in flight gets `deadline` seconds (None: as long as it
        takes; 0: none) to finish, then is cancelled. Calling again cancels what is left
        (a caller that bounds the whole stop from outside calls `stop(0)` in its cleanup).
        """
        self._stopping = True
        self._wake.set()
        task = self._task
        if task is None or task.done():
            return True
        if task is asyncio.current_task():
            return True  # from inside the step: the loop ends when the step returns
        try:
            if deadline is None or deadline > 0:
                await asyncio.wait({task}, timeout=deadline)
        finally:
            ended = task.done()
            if not ended:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if self._task is task:
                self._task = None
        if not ended and deadline:
            self._log.warning("%s: still busy %g s after stop; cancelled", self.name, deadline)
        return ended

    def status(self) -> WorkerStatus:
        return WorkerStatus(
            name=self.name,
            running=self.running,
            failures=self._retry.failures,
            failing_since=self._failing_since,
            last_error=self._last_error,
            last_step_at=self._last_step_at,
        )

    # ------------------------------------------------------------------ the loop

    async def _run(self, delay: float | None) -> None:
        while True:
            if delay is None or delay > 0:
                await self._pause(delay)
            else:
                await asyncio.sleep(0)  # a step that needs no I/O must not starve the loop
            if self._ending():
                return
            self._wake.clear()
            try:
                delay = await self._step()
            except Exception as exc:
                delay = await self._failed(exc)
            else:
                if self._retry.failures:
                    await self._recovered()
            finally:
                self._last_step_at = self._monotonic()
            if self._ending():
                return

    def _ending(self) -> bool:
        """`stop()` was called (a method: it changes while the loop awaits)."""
        return self._stopping

    async def _pause(self, delay: float | None) -> None:
        """Until `delay` has passed on the injected sleep, or `wake()` or `stop()`."""
        waker = asyncio.ensure_future(self._wake.wait())
        if delay is None:
            try:
                await waker
            finally:
                waker.cancel()
            return
        sleeper = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait({waker, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            sleeper.cancel()
            await asyncio.gather(waker, sleeper, return_exceptions=True)

    async def _failed(self, exc: Exception) -> float:
        delay = self._retry.next_delay()
        self._last_error = f"{type(exc).__name__}: {exc}"
        if self._redact is not None:
            self._last_error = self._redact(self._last_error)
        if self._retry.failures > 1:
            self._log.debug("%s failed again: %s", self.name, self._last_error)
            return delay
        self._failing_since = self._monotonic()
        if self._redact is not None:
            text = self._redact("".join(traceback.format_exception(exc)).rstrip())
            self._log.error("%s failed: %s", self.name, text)
        else:
            self._log.exception("%s failed", self.name)
        if self._on_error is not None:
            await self._hook(self._on_error(exc))
        return delay

    async def _recovered(self) -> None:
        self._log.info("%s works again after %d failure(s)", self.name, self._retry.failures)
        self._retry.reset()
        self._failing_since = None
        self._last_error = None
        if self._on_recovered is not None:
            await self._hook(self._on_recovered())

    async def _hook(self, call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            self._log.exception("%s: error hook failed", self.name)
