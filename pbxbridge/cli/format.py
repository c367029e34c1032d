"""Human-readable output for subscribers, paycards and audit rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click

from billing_client.subscriber import STATUS_WORDS, Status, SubscriberInfo
from primitives.clock import Clock


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def status_word(info: SubscriberInfo) -> str:
    """The status as a word. Ubilling's status 3 covers frozen and disabled alike; the
    word says which (`disabled`, `frozen`, or both)."""
    if info.status != Status.FROZEN:
        return STATUS_WORDS[info.status]
    words = [w for w, on in (("disabled", info.disabled), ("frozen", info.frozen)) if on]
    return ", ".join(words) or STATUS_WORDS[info.status]


def subscriber_details(info: SubscriberInfo) -> str:
    fields: list[tuple[str, object]] = [
        ("login", info.login),
        ("name", info.name),
        ("status", f"{int(info.status)} ({status_word(info)})"),
        ("balance", info.balance),
        ("credit", info.credit),
        ("credit until", info.credit_expire.isoformat() if info.credit_expire else "-"),
        ("tariff", info.tariff),
        ("fee", info.fee),
        ("days left", "-" if info.days_left is None else info.days_left),
        ("frozen", "yes" if info.frozen else "no"),
        ("disabled", "yes" if info.disabled else "no"),
        ("phones", ", ".join(info.phones) or "-"),
        ("PIN", "set" if info.has_pin else "not set"),
    ]
    width = max(len(k) for k, _ in fields)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in fields)


LOCAL_SECONDS = "%Y-%m-%d %H:%M:%S"
LOCAL_MINUTES = "%Y-%m-%d %H:%M"


def local_time(clock: Clock, instant: datetime | None, shape: str = LOCAL_SECONDS) -> str:
    """A stored instant in the service's timezone with the zone's abbreviation
    (`2026-11-22 12:00:00 EET`), as the log lines show it; `-` for none.

    Every time the CLI prints goes through here: stored instants are UTC, and a bare
    `12:00` would leave the reader guessing which zone, twice a year which hour.
    """
    return clock.local(instant).strftime(f"{shape} %Z") if instant else "-"


def one_line(text: str, limit: int = 240) -> str:
    """Whitespace collapsed to single spaces, cut at `limit` characters: a driver's
    multi-line message (SQL, a traceback-like chain) as one readable line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def echo_err(message: str) -> None:
    click.echo(message, err=True)
