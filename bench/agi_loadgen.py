"""The load generator: a fake Asterisk that opens FastAGI sessions as fast as it can.

Each session connects, sends the `agi_*` environment block captured from a real Asterisk
(scenario 1 of `tests/fixtures/asterisk/fastagi-sessions.json`) with the per-call headers
changed, answers every command line the way Asterisk does, and ends when the server
closes the connection. Latency is measured from just before `connect()` to the server's
close, so it includes the TCP handshake and the whole AGI conversation.

It is written for low overhead, so the generator is not what gets measured: a bare
`asyncio.Protocol` per connection (no StreamReader/StreamWriter layers, no task per
connection), environment blocks built before the clock starts, and replies chosen by a
prefix test on the raw line. Several worker processes can share the load (`workers`);
they start together on a barrier and their latencies are merged.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import multiprocessing.connection
import multiprocessing.synchronize
import os
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
CAPTURE_FILE = REPO / "tests" / "fixtures" / "asterisk" / "fastagi-sessions.json"
ROUTE = "askozianum"
SCRIPT = "askozianum?mode=test&x=1"
"""`agi_network_script` as captured: the route plus a query (which panoramisk cannot route)."""

# Replies Asterisk gives, by command prefix (the askozianum route only sends SET VARIABLE;
# the rest keeps the generator honest if a route ever sends something else).
_SET_OK = b"200 result=1\n"
_REPLIES: tuple[tuple[bytes, bytes], ...] = (
    (b"GET FULL VARIABLE ", b"200 result=0\n"),
    (b"GET VARIABLE ", b"200 result=0\n"),
    (b"GET DATA ", b"200 result= (timeout)\n"),
    (b"VERBOSE ", b"200 result=1\n"),
    (b"ANSWER", b"200 result=0\n"),
    (b"HANGUP", b"200 result=1\n"),
    (b"EXEC ", b"200 result=0\n"),
    (b"STREAM FILE ", b"200 result=0 endpos=0\n"),
    (b"SAY ", b"200 result=0\n"),
    (b"NOOP", b"200 result=0\n"),
)
_UNKNOWN = b"510 Invalid or unknown command\n"


def reply_for(line: bytes) -> bytes:
    """What Asterisk answers to one command line (without its newline)."""
    if line.startswith(b"SET VARIABLE "):
        return _SET_OK
    for prefix, reply in _REPLIES:
        if line.startswith(prefix):
            return reply
    return _UNKNOWN


def captured_environment() -> list[tuple[str, str]]:
    """The environment block of capture scenario 1 as (header, value) pairs, in order."""
    sessions = json.loads(CAPTURE_FILE.read_text(encoding="utf-8"))
    block: str = sessions[0]["exchange"][0]["data"]
    pairs = []
    for line in block.split("\n"):
        if line:
            key, _, value = line.partition(": ")
            pairs.append((key, value))
    return pairs


class EnvironmentTemplate:
    """The captured block with agi_network_script, agi_request, agi_callerid and
    agi_uniqueid filled in per session.

    The captured `agi_arg_1: arg one` / `agi_arg_2` are dropped: the shipped dialplan calls
    `AGI(agi://…/askozianum)` without arguments, and askozianum takes agi_arg_1 before the
    CallerID as the number to look up.
    """

    def __init__(self, port: int, script: str = SCRIPT) -> None:
        fixed = {
            "agi_network_script": script,
            "agi_request": f"agi://{HOST}:{port}/{script}",
        }
        parts: list[bytes] = []
        for key, value in captured_environment():
            if key.startswith("agi_arg_"):
                continue
            if key in ("agi_callerid", "agi_uniqueid"):
                parts.append(f"{key}: ".encode() + b"%b")
            else:
                line = f"{key}: {fixed.get(key, value)}".encode()
                parts.append(line.replace(b"%", b"%%"))
        self._order = [
            k for k, _ in captured_environment() if k in ("agi_callerid", "agi_uniqueid")
        ]
        self._template = b"\n".join(parts) + b"\n\n"

    def render(self, callerid: str, uniqueid: str) -> bytes:
        values = {"agi_callerid": callerid.encode(), "agi_uniqueid": uniqueid.encode()}
        return self._template % tuple(values[k] for k in self._order)


class _Channel(asyncio.Protocol):
    """One FastAGI connection as Asterisk plays it; `done` resolves when it is closed."""

    __slots__ = ("_buffer", "_env", "_record", "_transport", "done")

    def __init__(self, env: bytes, done: asyncio.Future[BaseException | None]) -> None:
        self._env = env
        self.done = done
        self._buffer = b""
        self._record: list[bytes] = []
        self._transport: asyncio.Transport | None = None

    @property
    def commands(self) -> list[bytes]:
        return self._record

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._env)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        transport = self._transport
        assert transport is not None
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end]
            start = end + 1
            self._record.append(line)
            transport.write(reply_for(line))
        self._buffer = buffer[start:]

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself, then connection_lost

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(exc)


async def session(
    port: int, env: bytes, *, deadline: float = 30.0
) -> tuple[float, list[bytes], BaseException | None]:
    """One session: (seconds from connect to close, command lines received, error)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[BaseException | None] = loop.create_future()
    channel = _Channel(env, done)
    start = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            await loop.create_connection(lambda: channel, HOST, port)
            error = await done
    except (OSError, TimeoutError) as exc:
        return time.perf_counter() - start, channel.commands, exc
    return time.perf_counter() - start, channel.commands, error


@dataclass
class WorkerResult:
    """What one generator process measured; `commands[i]` belongs to session `indices[i]`."""

    indices: list[int]
    latencies: bytes  # array('d') of seconds, one per session in `indices` order
    commands: list[list[bytes]]
    errors: list[tuple[int, str]]
    started: float  # time.monotonic(), comparable across processes on Linux
    finished: float


@dataclass
class LoadResult:
    """Merged results of every worker."""

    sessions: int
    wall: float
    latencies: list[float]  # seconds, sorted, successful sessions only
    commands: dict[int, list[bytes]] = field(default_factory=dict)
    errors: list[tuple[int, str]] = field(default_factory=list)
    generator_cpu: float = 0.0
    """CPU seconds the generator itself used (every worker process)."""

    @property
    def rate(self) -> float:
        return self.sessions / self.wall if self.wall > 0 else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile latency in ms (nearest rank)."""
        if not self.latencies:
            return float("nan")
        rank = min(len(self.latencies) - 1, max(0, round(q / 100 * len(self.latencies)) - 1))
        return self.latencies[rank] * 1000


async def _run(
    port: int,
    envs: Sequence[tuple[int, bytes]],
    concurrency: int,
    start_barrier: multiprocessing.synchronize.Barrier | None,
) -> WorkerResult:
    latencies = array("d", bytes(8 * len(envs)))
    commands: list[list[bytes]] = [[] for _ in envs]
    errors: list[tuple[int, str]] = []
    jobs: Iterator[int] = iter(range(len(envs)))

    async def channel() -> None:
        for position in jobs:  # one iterator shared by every channel of this process
            index, env = envs[position]
            seconds, lines, error = await session(port, env)
            latencies[position] = seconds
            commands[position] = lines
            if error is not None:
                errors.append((index, f"{type(error).__name__}: {error}"))

    if start_barrier is not None:
        await asyncio.to_thread(start_barrier.wait)
    started = time.monotonic()
    await asyncio.gather(*(channel() for _ in range(min(concurrency, len(envs)))))
    finished = time.monotonic()
    return WorkerResult(
        indices=[index for index, _ in envs],
        latencies=latencies.tobytes(),
        commands=commands,
        errors=errors,
        started=started,
        finished=finished,
    )


def _worker(
    port: int,
    envs: Sequence[tuple[int, bytes]],
    concurrency: int,
    start_barrier: multiprocessing.synchronize.Barrier,
    out: multiprocessing.connection.Connection,
) -> None:
    try:
        out.send(asyncio.run(_run(port, envs, concurrency, start_barrier)))
    except BaseException as exc:
        out.send(exc)
        raise
    finally:
        out.close()


def run_load(port: int, envs: Sequence[bytes], *, concurrency: int, workers: int = 1) -> LoadResult:
    """Run every session in `envs`, `concurrency` at a time split over `workers` processes.

    With one worker the load runs in this process (no fork); throughput is the session
    count over the time from the common start to the last worker's end.
    """
    indexed = list(enumerate(envs))
    # The collector would walk every object this process holds (earlier results included)
    # again and again during the run; freeze what exists and pause it until the end.
    gc.collect()
    gc.freeze()
    gc.disable()
    before = _cpu()
    try:
        if workers <= 1:
            results = [asyncio.run(_run(port, indexed, concurrency, None))]
        else:
            results = _run_in_processes(port, indexed, concurrency, workers)
    finally:
        gc.enable()
        gc.unfreeze()
    merged = _merge(results, len(envs))
    merged.generator_cpu = _cpu() - before
    return merged


def _cpu() -> float:
    """CPU seconds of this process and of its joined children (the worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _run_in_processes(
    port: int, indexed: list[tuple[int, bytes]], concurrency: int, workers: int
) -> list[WorkerResult]:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers)
    pipes: list[multiprocessing.connection.Connection] = []
    procs = []
    for w in range(workers):
        share = concurrency // workers + (1 if w < concurrency % workers else 0)
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_worker,
            args=(port, indexed[w::workers], max(1, share), barrier, sender),
            daemon=True,
        )
        proc.start()
        sender.close()
        pipes.append(receiver)
        procs.append(proc)
    results: list[WorkerResult] = []
    try:
        for receiver in pipes:
            got = receiver.recv()
            if isinstance(got, BaseException):
                raise RuntimeError(f"load generator worker failed: {got!r}") from got
            results.append(got)
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
    return results


def _merge(results: list[WorkerResult], total: int) -> LoadResult:
    latencies: list[float] = []
    commands: dict[int, list[bytes]] = {}
    errors: list[tuple[int, str]] = []
    failed: set[int] = set()
    for result in results:
        errors.extend(result.errors)
        failed.update(index for index, _ in result.errors)
        seconds = array("d")
        seconds.frombytes(result.latencies)
        for index, value, lines in zip(result.indices, seconds, result.commands, strict=True):
            commands[index] = lines
            if index not in failed:
                latencies.append(value)
    latencies.sort()
    wall = max(r.finished for r in results) - min(r.started for r in results)
    return LoadResult(
        sessions=total, wall=wall, latencies=latencies, commands=commands, errors=errors
    )


def parse_set_variables(lines: Sequence[bytes]) -> list[tuple[str, str]]:
    """(name, value) of every `SET VARIABLE NAME "value"` line, in order."""
    out = []
    for raw in lines:
        if not raw.startswith(b"SET VARIABLE "):
            continue
        _, _, name, value = raw.decode("utf-8", errors="replace").split(" ", 3)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out.append((name, value))
    return out
