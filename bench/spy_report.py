"""Where `pbxbridge run` spends its event-loop thread, from a py-spy raw profile.

py-spy (`record --format raw`) writes one line per distinct stack: frames from the
thread's root to the leaf separated by `;`, then a sample count. Samples of the loop
waiting in epoll and of aiosqlite's worker thread waiting on its queue are idle time and
are dropped; the rest of the other threads is counted apart (their CPU is read from /proc
instead). Each event-loop sample is named by the deepest known function on its stack
(LANDMARKS), so the table reads like "time spent in X and below, excluding the parts of
it that are named separately". Unknown code falls to its nearest known caller, so the
table stays meaningful when the code under it changes.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:)]*)(?::(?P<line>\d+))?\)$")


def _frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) of every frame, root first."""
    out = []
    for frame in stack.split(";"):
        match = _FRAME.match(frame)
        out.append((match["name"], match["file"]) if match else (frame, ""))
    return out


LANDMARKS: dict[str, str] = {
    # The lookup. The deepest landmark on a stack names the sample.
    "_SelectInLoader._load_for_path": "lookup: SQLAlchemy ORM, selectin load of phones",
    "_PostLoad.invoke": "lookup: SQLAlchemy ORM, selectin load of phones",
    "AsyncSession.scalar": "lookup: SQLAlchemy ORM, session execute",
    "AsyncSession.execute": "lookup: SQLAlchemy ORM, session execute",
    "AsyncSession.close": "lookup: SQLAlchemy session/connection open, close, pool",
    "AsyncSession.__aexit__": "lookup: SQLAlchemy session/connection open, close, pool",
    "AsyncEngine.connect": "lookup: SQLAlchemy session/connection open, close, pool",
    "AsyncConnection.start": "lookup: SQLAlchemy session/connection open, close, pool",
    "AsyncConnection.__aenter__": "lookup: SQLAlchemy session/connection open, close, pool",
    "AsyncConnection.__aexit__": "lookup: SQLAlchemy session/connection open, close, pool",
    "AsyncConnection.close": "lookup: SQLAlchemy session/connection open, close, pool",
    "AsyncConnection.execute": "lookup: SQLAlchemy Core execute",
    "LocalBackend.lookup_number": "lookup: building the ORM select() on every call",
    "DataVersionProbe.version": "lookup: data_version probe",
    "DataVersionProbe._serve": "lookup: data_version probe",
    "subscriber_info": "lookup: SubscriberInfo from the row (Decimal, rules)",
    "info_from_stored": "lookup: SubscriberInfo from the row (Decimal, rules)",
    "PhoneNormaliser.normalise": "lookup: phone normalisation (phonenumbers)",
    "CallLookups.find": "lookup: CallLookups other (memo, bookkeeping)",
    "LocalBackend.lookup_call": "lookup: BillingClient/backend other (deadline, stale cache)",
    "BillingClient.lookup_call": "lookup: BillingClient/backend other (deadline, stale cache)",
    "lookup": "lookup: route's lookup() (its log call, result)",
    # The AGI layer.
    "set_variables": "AGI: 4 × SET VARIABLE (escape, write, deadline, read and parse reply)",
    "FastAgiServer._read_request": "AGI: environment block and request",
    "build_request": "AGI: environment block and request",
    "_close": "AGI/asyncio: accept, transport set-up, close",
    "_SelectorTransport._call_connection_lost": "AGI/asyncio: accept, transport set-up, close",
    "BaseSelectorEventLoop._accept_connection": "AGI/asyncio: accept, transport set-up, close",
    "BaseSelectorEventLoop._accept_connection2": "AGI/asyncio: accept, transport set-up, close",
    "FastAgiServer._on_connection": "AGI: rest of the server's connection task",
}
GREENLET = "lookup: SQLAlchemy sync work inside greenlets (execute, cursor, rows)"
LOOP = "event loop: scheduling, callbacks, self-pipe wake-ups (thread results land here)"


def _idle_frame() -> str:
    """The frame of aiosqlite's worker thread waiting for work (`tx.get()`)."""
    import inspect

    import aiosqlite.core

    lines, first = inspect.getsourcelines(aiosqlite.core._connection_worker_thread)
    for offset, text in enumerate(lines):
        if "tx.get()" in text:
            return f"_connection_worker_thread (aiosqlite/core.py:{first + offset})"
    return "_connection_worker_thread (aiosqlite/core.py:?)"


def categorise(raw: Path) -> tuple[Counter[str], int, int]:
    """(samples per category for the loop thread, loop samples, busy worker-thread samples)."""
    counts: Counter[str] = Counter()
    loop_samples = worker_samples = 0
    idle = _idle_frame()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        names = [name for name, _ in frames]
        if names[0] == "Thread._bootstrap":
            if stack.rsplit(";", 1)[-1] == idle:
                continue  # waiting for work
            worker_samples += count
            continue
        if names[-1] == "EpollSelector.select":
            continue  # the loop waiting for events: idle, not work
        loop_samples += count
        if frames[0][1].startswith("sqlalchemy/"):
            # A stack that starts inside a greenlet: SQLAlchemy's async bridge running
            # its synchronous code (ORM or Core) for a lookup.
            selectin = any(n.startswith(("_SelectInLoader", "_PostLoad")) for n in names)
            counts[LANDMARKS["_PostLoad.invoke"] if selectin else GREENLET] += count
            continue
        label = next((LANDMARKS[n] for n in reversed(names) if n in LANDMARKS), LOOP)
        counts[label] += count
    return counts, loop_samples, worker_samples


def breakdown(raw: Path, loop_us_per_session: float) -> str:
    """A markdown table: category, share of event-loop samples, ≈ µs per session."""
    counts, total, _ = categorise(raw)
    if total == 0:
        return "(no samples)"
    lines = [
        "| where the event-loop thread goes (py-spy) | share | ≈ µs/session |",
        "|---|---:|---:|",
    ]
    for label, count in counts.most_common():
        share = count / total
        lines.append(f"| {label} | {share:.1%} | {share * loop_us_per_session:,.0f} |")
    return "\n".join(lines)
