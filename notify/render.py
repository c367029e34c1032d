"""The words staff read: one message per notice, or one summary for a flood of them.

Plain text (no parse_mode), so nothing needs escaping and Cyrillic goes out as it came.
Telegram refuses texts over 4096 characters, counted in UTF-16 code units; `fit` keeps
every message under that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from notify.notices import (
    AlertNotice,
    InboundSmsNotice,
    LinkNotice,
    LockoutNotice,
    MissedCallNotice,
    Notice,
    SmsFailedNotice,
)

TEXT_LIMIT = 4096
ELLIPSIS = "…"
# Longest quote of an SMS text inside a one-line summary item.
SUMMARY_QUOTE = 40
# Longest quote of an alert inside a one-line summary item.
SUMMARY_ALERT = 120


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text` cut to `limit` UTF-16 units, ending in "…" when something was cut."""
    if utf16_len(text) <= limit:
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit - 1:
            return text[:index] + ELLIPSIS
    return text  # pragma: no cover - unreachable: the text was longer than the limit


def clip(text: str, chars: int) -> str:
    """One line of at most `chars` characters: newlines become spaces, the rest is cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + ELLIPSIS


def status_name(status: int | None) -> str | None:
    """Ubilling's userstatus code in words (the codes of billing_client.Status)."""
    match status:
        case None:
            return None
        case 0:
            return "unknown"
        case 1:
            return "active"
        case 2:
            return "debtor"
        case 3:
            return "frozen"
        case _:
            return f"status {status}"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _subscriber(login: str | None, name: str | None) -> str:
    if login and name:
        return f"{name} ({login})"
    return login or name or "not found in the billing"


def _missed(notice: MissedCallNotice) -> str:
    subscriber = _subscriber(notice.login, notice.name)
    status = status_name(notice.status) if notice.login else None
    lines = [
        f"Missed call from {notice.number}",
        f"Subscriber: {subscriber}" + (f", {status}" if status else ""),
    ]
    waited = f"waited {notice.waited_seconds} s" if notice.waited_seconds is not None else ""
    if notice.queue:
        lines.append(f"Queue: {notice.queue}" + (f", {waited}" if waited else ""))
    elif waited:
        lines.append(waited.capitalize())
    lines.append(f"At {_when(notice.at)}")
    return "\n".join(lines)


def _sms(notice: InboundSmsNotice) -> str:
    head = "\n".join(
        [
            f"SMS from {notice.sender} via {notice.device}",
            f"Subscriber: {_subscriber(notice.login, notice.name)}",
            f"At {_when(notice.at)}",
        ]
    )
    return f"{head}\n\n{notice.text}"


def _link(notice: LinkNotice) -> str:
    state = "up again" if notice.up else "DOWN"
    return f"{notice.link} link is {state}" + (f": {notice.detail}" if notice.detail else "")


def _failed(notice: SmsFailedNotice) -> str:
    return (
        f"SMS #{notice.message_id} to {notice.number} failed: {notice.reason}\nText: {notice.text}"
    )


def _alert(notice: AlertNotice) -> str:
    return f"ALERT: {notice.text}"


def _locked_who(notice: LockoutNotice) -> str:
    parts = []
    if notice.number:
        parts.append(f"number {notice.number}")
    if notice.login:
        parts.append(f"login {notice.login}")
    return " and ".join(parts)


def _lockout(notice: LockoutNotice) -> str:
    lift = notice.login or notice.number
    return "\n".join(
        [
            f"Locked out of self-service: {_locked_who(notice)}",
            f"After {notice.failures} failures, the last a {notice.reason}",
            f"Until {notice.until:%Y-%m-%d %H:%M:%S %Z}",
            f"To lift it: /unlock {lift}",
        ]
    )


def render(notice: Notice) -> str:
    """The message for a single notice."""
    match notice:
        case MissedCallNotice():
            text = _missed(notice)
        case InboundSmsNotice():
            text = _sms(notice)
        case LinkNotice():
            text = _link(notice)
        case SmsFailedNotice():
            text = _failed(notice)
        case AlertNotice():
            text = _alert(notice)
        case LockoutNotice():
            text = _lockout(notice)
    return fit(text)


# ------------------------------------------------------------------ summaries

# Kinds in the order a summary lists them: system health first.
KINDS: tuple[tuple[type[Notice], str, str], ...] = (
    (AlertNotice, "alert", "alerts"),
    (LinkNotice, "link change", "link changes"),
    (MissedCallNotice, "missed call", "missed calls"),
    (InboundSmsNotice, "inbound SMS", "inbound SMS"),
    (SmsFailedNotice, "failed SMS", "failed SMS"),
    (LockoutNotice, "lockout", "lockouts"),
)


def kind_of(notice: Notice) -> str:
    """The summary group a notice belongs to (its plural label)."""
    for cls, _, plural in KINDS:
        if isinstance(notice, cls):
            return plural
    raise TypeError(f"not a notice: {type(notice).__name__}")  # pragma: no cover


def _item(notice: Notice) -> str:
    """A notice in a few words, for a summary line."""
    match notice:
        case MissedCallNotice():
            return f"{notice.number} ({notice.login})" if notice.login else notice.number
        case InboundSmsNotice():
            who = f"{notice.sender} ({notice.login})" if notice.login else notice.sender
            return f"{who}: «{clip(notice.text, SUMMARY_QUOTE)}»"
        case LinkNotice():
            state = "up" if notice.up else "down"
            return f"{notice.link} {state}" + (f" ({notice.detail})" if notice.detail else "")
        case SmsFailedNotice():
            return f"#{notice.message_id} to {notice.number} ({notice.reason})"
        case AlertNotice():
            return clip(notice.text, SUMMARY_ALERT)
        case LockoutNotice():
            return _locked_who(notice)


def _counted(items: Iterable[str]) -> list[str]:
    """Repeats folded into one entry, first-seen order: "0501234567 (ivan) ×3"."""
    counts = Counter(items)
    return [item if counts[item] == 1 else f"{item} ×{counts[item]}" for item in counts]


def _join_within(items: Sequence[str], budget: int) -> str:
    """Items joined by ", " within `budget` UTF-16 units, ending in "…" when some are left out."""
    if budget < 1:
        return ""
    out: list[str] = []
    used = 0
    for index, item in enumerate(items):
        piece = utf16_len(item) + (2 if out else 0)
        more = index < len(items) - 1
        # Taking an item that is not the last keeps room for the ", …" that may follow it.
        if used + piece + (3 if more else 0) > budget:
            return ", ".join([*out, ELLIPSIS]) if out else ELLIPSIS
        out.append(item)
        used += piece
    return ", ".join(out)


def render_summary(
    notices: Sequence[Notice],
    seconds: int,
    extra: Counter[str] | None = None,
    limit: int = TEXT_LIMIT,
) -> str:
    """One message for many notices: a line per kind, "N missed calls in the last S s: …".

    `extra` counts notices (by `kind_of` label) that were not kept, only counted, when a
    flood outgrew the notifier's queue; they add to the totals but have no items.
    """
    extra = extra or Counter()
    groups: list[tuple[str, list[str]]] = []
    for cls, singular, plural in KINDS:
        mine = [n for n in notices if isinstance(n, cls)]
        total = len(mine) + extra[plural]
        if total:
            label = singular if total == 1 else plural
            groups.append((f"{total} {label} in the last {seconds} s", [_item(n) for n in mine]))
    # Every header is shown; what room is left goes to the items, group by group.
    reserve = sum(utf16_len(header) + 1 for header, _ in groups)
    lines: list[str] = []
    used = 0
    for header, items in groups:
        reserve -= utf16_len(header) + 1
        line = header
        budget = limit - used - reserve - utf16_len(header) - 1 - 2  # newline, ": "
        joined = _join_within(_counted(items), budget) if items else ""
        if joined:
            line += ": " + joined
        lines.append(line)
        used += utf16_len(line) + 1
    return fit("\n".join(lines), limit)
