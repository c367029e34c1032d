"""Human-readable output for subscribers, paycards and audit rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click

from billing_client.clock import Clock
from billing_client.subscriber import STATUS_WORDS, SubscriberInfo


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def subscriber_details(info: SubscriberInfo) -> str:
    fields: list[tuple[str, object]] = [
        ("login", info.login),
        ("name", info.name),
        ("status", f"{int(info.status)} ({STATUS_WORDS[info.status]})"),
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


def local_time(clock: Clock, instant: datetime | None) -> str:
    """A stored instant in the service's timezone, to the second; `-` for none."""
    return clock.local(instant).strftime("%Y-%m-%d %H:%M:%S") if instant else "-"


def echo_err(message: str) -> None:
    click.echo(message, err=True)
