"""`python bench/ami_bench.py`: AMI receive path, pbxbridge vs panoramisk 1.4's bare parser.

Both real session captures (`tests/fixtures/asterisk/ami-session-*.raw`, every message
as Asterisk sent it, responses included) are concatenated behind one banner and repeated
until the stream holds at least `--events` messages. The same bytes, cut into the same
`--chunk`-sized reads, go through:

  (a) pbxbridge: `MessageRouter.feed()` (AmiFramer: buffer, split, decode whole messages;
      route responses, list items and events) and the `EventDispatcher` task running the
      handlers the service registers: Cdr, Newchannel, Hangup, QueueCallerAbandon,
      QueueCallerJoin, UserEvent, DongleNewSMSBase64, OriginateResponse (trivial work:
      count, read a header; half of them async). The reader yields to the event loop after
      every read, as a socket reader does, and the clock stops when the last handler ran.
  (b) panoramisk 1.4's bare parser, no dispatch: what `AMIProtocol.data_received` does
      per read (decode the read with errors="ignore", prepend the leftover, split on the
      blank line, `Message.from_line` each part), in a tight loop.
  (c) for information, panoramisk's whole `AMIProtocol.data_received` with a factory whose
      `dispatch` does nothing.

Each is run `--rounds` times, alternating, on the service's event loop (uvloop); the best
round counts. Untimed, the messages each produced are checked: pbxbridge must dispatch
exactly the consumed events of the stream, and keep every Cyrillic letter (panoramisk's
per-read decoding drops the letters cut by a read boundary: that count is reported).

Target: (a) events/s ≥ 1.0 × (b). Prints a table, a markdown row for the README and
PASS/FAIL; exit status 0 unless a correctness check fails (or --strict and FAIL).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import platform
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ami_listener.dispatch import EventDispatcher  # noqa: E402
from ami_listener.message import AmiMessage  # noqa: E402
from ami_listener.router import MessageRouter  # noqa: E402

CAPTURES = REPO / "tests" / "fixtures" / "asterisk"
SESSIONS = ("ami-session-originate-callfiles-agi.raw", "ami-session-missed-answered-queue.raw")
CONSUMED = (
    "Cdr",
    "Newchannel",
    "Hangup",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "UserEvent",
    "DongleNewSMSBase64",
    "OriginateResponse",
)
ASYNC_HANDLERS = frozenset({"Cdr", "Hangup", "QueueCallerAbandon", "DongleNewSMSBase64"})
TARGET = 1.0
CYRILLIC = re.compile(r"[\u0400-\u04ff]")


# The stream


@dataclass(frozen=True)
class Stream:
    chunks: list[bytes]
    messages: int
    events: int
    consumed: Counter[str]
    size: int


def build_stream(min_messages: int, chunk: int) -> Stream:
    banner = b""
    body = b""
    for name in SESSIONS:
        data = (CAPTURES / name).read_bytes()
        first, _, rest = data.partition(b"\r\n")
        banner = banner or first + b"\r\n"
        body += rest
    per_copy = body.count(b"\r\n\r\n")
    copies = -(-min_messages // per_copy)
    data = banner + body * copies
    names = re.findall(rb"(?:^|\r\n\r\n)Event: ([A-Za-z]+)\r\n", body)
    consumed = Counter({n: c * copies for n, c in Counter(x.decode() for x in names).items()})
    return Stream(
        chunks=[data[i : i + chunk] for i in range(0, len(data), chunk)],
        messages=per_copy * copies,
        events=len(names) * copies,
        consumed=Counter({n: consumed[n] for n in CONSUMED if consumed[n]}),
        size=len(data),
    )


# (a) pbxbridge


class Handlers:
    """What the service's consumers do at minimum: look at the event, keep a count."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.seen_ids = 0

    def register(self, dispatcher: EventDispatcher) -> None:
        for name in CONSUMED:
            dispatcher.on_event(
                name, self._async(name) if name in ASYNC_HANDLERS else self._sync(name)
            )

    def _sync(self, name: str) -> Callable[[AmiMessage], None]:
        counts = self.counts

        def handle(event: AmiMessage) -> None:
            counts[name] += 1
            if event.get("Uniqueid") is not None:
                self.seen_ids += 1

        return handle

    def _async(self, name: str) -> Callable[[AmiMessage], Any]:
        counts = self.counts

        async def handle(event: AmiMessage) -> None:
            counts[name] += 1
            if event.get("Uniqueid") is not None:
                self.seen_ids += 1

        return handle


async def run_pbxbridge(
    stream: Stream, keep: list[AmiMessage] | None = None
) -> tuple[float, Handlers]:
    dispatcher = EventDispatcher()
    handlers = Handlers()
    handlers.register(dispatcher)
    if keep is not None:
        dispatcher.on_event("*", keep.append)
    router = MessageRouter(dispatcher)
    dispatcher.start()
    started = time.perf_counter()
    for chunk in stream.chunks:
        router.feed(chunk)
        await asyncio.sleep(0)  # a socket reader yields to the loop after each read
    await dispatcher.join()
    elapsed = time.perf_counter() - started
    await dispatcher.stop(1.0)
    return elapsed, handlers


# (b) panoramisk's bare parser


def run_panoramisk_parser(stream: Stream, keep: list[Message] | None = None) -> float:
    """`AMIProtocol.data_received`'s parsing, nothing else (panoramisk 1.4)."""
    eol2 = "\r\n\r\n"
    leftover = ""
    from_line = Message.from_line
    started = time.perf_counter()
    for chunk in stream.chunks:
        data = leftover + chunk.decode("utf8", "ignore")
        parts = data.split(eol2)
        leftover = parts.pop(-1)
        for part in parts:
            message = from_line(part.strip())
            if keep is not None and message is not None:
                keep.append(message)
    return time.perf_counter() - started


# (c) panoramisk's AMIProtocol.data_received, dispatch a no-op


class _NullFactory:
    save_stream = None

    def dispatch(self, message: Message) -> None:
        return None


class _NullTransport(asyncio.Transport):
    def write(self, data: Any) -> None:
        return None


def run_panoramisk_protocol(stream: Stream) -> float:
    protocol = AMIProtocol()
    protocol.connection_made(_NullTransport())
    protocol.factory = _NullFactory()
    protocol.encoding = "utf8"
    protocol.log = logging.getLogger("panoramisk-bench")
    protocol.log.setLevel(logging.WARNING)
    data_received = protocol.data_received
    started = time.perf_counter()
    for chunk in stream.chunks:
        data_received(chunk)
    return time.perf_counter() - started


# Checks (untimed)


@dataclass
class Check:
    what: str
    ok: bool
    detail: str


def cyrillic_letters(values: Sequence[str]) -> int:
    return sum(len(CYRILLIC.findall(v)) for v in values)


async def checks(stream: Stream) -> list[Check]:
    kept: list[AmiMessage] = []
    _, handlers = await run_pbxbridge(stream, keep=kept)
    out = [
        Check(
            "pbxbridge dispatch",
            handlers.counts == stream.consumed and len(kept) == stream.events,
            f"{sum(handlers.counts.values()):,} consumed events handled "
            f"(expected {sum(stream.consumed.values()):,}), {len(kept):,} events to '*' "
            f"(stream has {stream.events:,})",
        )
    ]
    parsed: list[Message] = []
    run_panoramisk_parser(stream, keep=parsed)
    ours = cyrillic_letters([v for m in kept for _, v in m.headers])
    raw = b"".join(stream.chunks).decode("utf-8")
    in_stream = len(CYRILLIC.findall(raw))
    theirs = cyrillic_letters(
        [x for m in parsed for v in m.values() for x in (v if isinstance(v, list) else [str(v)])]
    )
    out.append(
        Check(
            "Cyrillic letters kept",
            ours == in_stream,
            f"stream {in_stream:,}; pbxbridge {ours:,}; panoramisk {theirs:,} "
            f"({in_stream - theirs:,} lost at read boundaries)",
        )
    )
    out.append(
        Check(
            "panoramisk messages",
            len(parsed) == stream.messages,
            f"{len(parsed):,} of {stream.messages:,}",
        )
    )
    return out


# Main


@dataclass
class Result:
    label: str
    seconds: float
    count: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds


async def measure(stream: Stream, rounds: int) -> tuple[Result, Result, Result]:
    best = {"a": float("inf"), "b": float("inf"), "c": float("inf")}
    for _ in range(rounds):
        gc.collect()
        best["a"] = min(best["a"], (await run_pbxbridge(stream))[0])
        gc.collect()
        best["b"] = min(best["b"], run_panoramisk_parser(stream))
        gc.collect()
        best["c"] = min(best["c"], run_panoramisk_protocol(stream))
    return (
        Result(
            "(a) pbxbridge framer + router + dispatcher (8 handlers)", best["a"], stream.messages
        ),
        Result(
            "(b) panoramisk 1.4 bare parser (decode, split, Message.from_line)",
            best["b"],
            stream.messages,
        ),
        Result(
            "(c) panoramisk 1.4 AMIProtocol.data_received, no-op dispatch",
            best["c"],
            stream.messages,
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=200_000, help="messages in the stream")
    parser.add_argument("--chunk", type=int, default=4096, help="bytes per read")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    stream = build_stream(args.events, args.chunk)
    factory = uvloop.new_event_loop if args.loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        verdicts = runner.run(checks(stream))
        a, b, c = runner.run(measure(stream, args.rounds))
    ratio = a.rate / b.rate
    passed = ratio >= TARGET
    verdict = "PASS" if passed else "FAIL"

    print(
        f"AMI receive path: {stream.messages:,} messages ({stream.events:,} events, "
        f"{sum(stream.consumed.values()):,} to the 8 consumers), {stream.size / 1e6:.1f} MB "
        f"in {len(stream.chunks):,} reads of {args.chunk} B; best of {args.rounds}; "
        f"{args.loop}; Python {platform.python_version()}, {platform.machine()}"
    )
    print()
    print("| path | events/s | messages/s | ms total |")
    print("|---|---:|---:|---:|")
    for r in (a, b, c):
        events_rate = stream.events / r.seconds
        print(f"| {r.label} | {events_rate:,.0f} | {r.rate:,.0f} | {r.seconds * 1000:.0f} |")
    print()
    for check in verdicts:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.what}: {check.detail}")
    print(
        f"{verdict}  target: pbxbridge / panoramisk bare parser = {ratio:.2f} (goal ≥ {TARGET:.1f})"
    )
    print()
    print("README row (| benchmark | pbxbridge | panoramisk 1.4 | ratio | goal | verdict |):")
    print(
        f"| AMI receive: {stream.events // 1000}k captured events, {args.chunk} B reads, "
        f"framer + dispatch vs bare parser | {stream.events / a.seconds:,.0f} events/s "
        f"| {stream.events / b.seconds:,.0f} events/s | {ratio:.2f}× | ≥ {TARGET:.1f}× "
        f"| {verdict} |"
    )
    if not all(check.ok for check in verdicts):
        return 1
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
