"""CSV files of the embedded billing, and the field checks that admin commands share with them.

Every check raises `FieldProblem` with a one-line reason; the admin layer turns it into an
AdminError, the importers into a skipped row. Files are read whole before anything is
written, so an unreadable file (bad header, not UTF-8) changes nothing.

Line numbers are physical lines, header = 1: a record that spans several lines (a quoted
line break) is reported at the line where it starts, and later records keep their true
numbers. Open files with ``newline=""`` (the csv module's rule) and ``encoding="utf-8-sig"``;
a BOM that reaches us anyway is dropped.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, TextIO

from billing_client.errors import FieldProblem, MoneyError
from billing_client.models import Subscriber
from billing_client.money import from_cents, parse_amount, to_cents
from primitives.phones import PhoneNormaliser

SUBSCRIBER_FIELDS: tuple[str, ...] = (
    "login",
    "name",
    "phones",
    "balance",
    "credit",
    "credit_expire",
    "tariff",
    "fee",
    "frozen",
    "disabled",
)
PAYCARD_FIELDS: tuple[str, ...] = ("number", "amount")

LOGIN_RE = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NAME_MAX = 255  # billing_subscribers.name
TARIFF_MAX = 64  # billing_subscribers.tariff
PHONES_MAX = 32  # per subscriber; a longer list is a broken file, not a customer


def _show(value: str, limit: int = 40) -> str:
    """A value quoted for a message, cut so that one absurd cell cannot flood a report."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


# ---------------------------------------------------------------------------------------
# cells a spreadsheet would run

FORMULA_STARTS = frozenset("=+-@\t\r")
"""What makes a spreadsheet treat a cell as a formula (OWASP CSV injection)."""
_QUOTE = "'"


def _needs_quote(text: str) -> bool:
    return text[:1] in FORMULA_STARTS or (
        text[:1] == _QUOTE and (text[1:2] in FORMULA_STARTS or text[1:2] == _QUOTE)
    )


def spreadsheet_safe(text: str) -> str:
    """A text cell for export: one that starts like a formula (`=`, `+`, `-`, `@`, tab,
    CR) gets a leading `'`, so a spreadsheet shows it instead of running it.

    `from_spreadsheet` is its exact inverse: a value that itself starts with `'` before
    such a character (or before another `'`) is quoted too, so every value comes back
    as it was. Only for free text (login, name, tariff): phones and amounts are written as
    they are, since `+380…` and `-10.00` are what they mean.
    """
    return _QUOTE + text if _needs_quote(text) else text


def from_spreadsheet(text: str) -> str:
    """The value `spreadsheet_safe` wrote (a cell typed without the quote is unchanged)."""
    return text[1:] if text[:1] == _QUOTE and _needs_quote(text[1:]) else text


# ---------------------------------------------------------------------------------------
# field checks shared by admin commands and imports


def check_login(login: str) -> str:
    if not isinstance(login, str) or not LOGIN_RE.fullmatch(login):
        raise FieldProblem(f"bad login {_show(str(login))}: 1-64 of A-Z a-z 0-9 _ . @ -")
    return login


def check_text(value: str, what: str, max_len: int) -> str:
    """Surrounding blanks dropped; no control characters (line breaks, tabs, NUL)."""
    text = value.strip()
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise FieldProblem(f"{what} contains a control character: {_show(text)}")
    if len(text) > max_len:
        raise FieldProblem(f"{what} longer than {max_len} characters")
    return text


def check_amount(value: Decimal, what: str, *, negative_ok: bool = True) -> int:
    """A Decimal amount from a caller, as kopecks; at most two decimals."""
    try:
        amount = parse_amount(value)
    except MoneyError as exc:
        raise FieldProblem(f"bad {what}: {exc}") from exc
    if amount < 0 and not negative_ok:
        raise FieldProblem(f"{what} must not be negative: {amount}")
    return to_cents(amount)


def normalise_phones(raw: Iterable[str], phones: PhoneNormaliser) -> tuple[str, ...]:
    """Every number in E.164, in the given order, repeats dropped; an unparseable one raises."""
    result: list[str] = []
    for item in raw:
        text = item.strip()
        if not text:
            continue
        e164 = phones.normalise(text)
        if e164 is None:
            raise FieldProblem(f"unparseable phone {_show(text)}")
        if e164 not in result:
            result.append(e164)
    if len(result) > PHONES_MAX:
        raise FieldProblem(f"more than {PHONES_MAX} phones")
    return tuple(result)


def check_credit(credit_cents: int, credit_expire: date | None) -> date | None:
    """The expiry to store with a credit: required for a credit, dropped with none."""
    if credit_cents == 0:
        return None
    if credit_expire is None:
        raise FieldProblem(
            f"credit {from_cents(credit_cents)} needs credit_expire "
            "(a credit without an end date is never in force)"
        )
    return credit_expire


# ---------------------------------------------------------------------------------------
# reading


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: its fields, or the reason it could not be read."""

    line: int
    fields: list[str]
    problem: str | None = None


def read_records(source: TextIO, header: Sequence[str]) -> list[Record]:
    """All records after a header that must be exactly `header`; blank lines are skipped.

    Raises FieldProblem (before anything is stored) when the file is empty, its header is
    wrong, or it is not valid text.
    """
    reader = csv.reader(source, strict=True)
    records: list[Record] = []
    try:
        try:
            first = next(reader)
        except StopIteration:
            raise FieldProblem(
                f"the file is empty; expected the header {','.join(header)}"
            ) from None
        except csv.Error as exc:
            raise FieldProblem(f"line 1: unreadable header: {exc}") from exc
        _check_header(first, header)
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                records.append(Record(start, [], f"unreadable CSV: {exc}"))
                continue
            if fields:
                records.append(Record(start, fields))
    except UnicodeDecodeError as exc:
        raise FieldProblem(
            f"not UTF-8 text (near line {reader.line_num + 1}): {exc.reason}"
        ) from exc
    return records


def _check_header(found: list[str], expected: Sequence[str]) -> None:
    names = [name.strip() for name in found]
    if names:
        names[0] = names[0].lstrip("\ufeff").strip()
    if names == list(expected):
        return
    missing = [n for n in expected if n not in names]
    unexpected = [n for n in names if n not in expected]
    parts = [f"the header must be exactly {','.join(expected)}"]
    if missing:
        parts.append("missing: " + ", ".join(missing))
    if unexpected:
        parts.append("unexpected: " + ", ".join(_show(n, 30) for n in unexpected))
    if not missing and not unexpected:
        parts.append("columns repeated or out of order")
    raise FieldProblem("; ".join(parts))


def check_cells(record: Record, width: int) -> list[str]:
    """The record's cells, blanks stripped, once it has the right shape."""
    if record.problem is not None:
        raise FieldProblem(record.problem)
    if len(record.fields) != width:
        raise FieldProblem(f"expected {width} fields, found {len(record.fields)}")
    for value in record.fields:
        if "\n" in value or "\r" in value:
            raise FieldProblem("line break inside a field (an unclosed quote?)")
    return [value.strip() for value in record.fields]


def parse_money(text: str, what: str, *, negative_ok: bool = True) -> int:
    if not text:
        raise FieldProblem(f"bad {what}: empty")
    try:
        amount = parse_amount(text)
    except MoneyError as exc:
        raise FieldProblem(f"bad {what}: {exc}") from exc
    if amount < 0 and not negative_ok:
        raise FieldProblem(f"bad {what}: negative {_show(text)}")
    return to_cents(amount)


def parse_date(text: str, what: str) -> date | None:
    if not text:
        return None
    if not _DATE_RE.fullmatch(text):
        raise FieldProblem(f"bad {what}: {_show(text)} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FieldProblem(f"bad {what}: {_show(text)} is not a date") from None


def parse_flag(text: str, what: str) -> bool:
    if text == "0":
        return False
    if text == "1":
        return True
    raise FieldProblem(f"bad {what}: {_show(text)} is not 0 or 1")


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """A checked row of a subscribers file; money in kopecks, phones in E.164."""

    line: int
    login: str
    name: str
    phones: tuple[str, ...]
    balance_cents: int
    credit_cents: int
    credit_expire: date | None
    tariff: str
    fee_cents: int
    frozen: bool
    disabled: bool


def parse_subscriber(record: Record, phones: PhoneNormaliser) -> SubscriberRow:
    cells = check_cells(record, len(SUBSCRIBER_FIELDS))
    login, name, phone_list, balance, credit, expire, tariff, fee, frozen, disabled = cells
    credit_cents = parse_money(credit, "credit", negative_ok=False)
    return SubscriberRow(
        line=record.line,
        login=check_login(from_spreadsheet(login)),
        name=check_text(from_spreadsheet(name), "name", NAME_MAX),
        phones=normalise_phones(phone_list.split(";"), phones),
        balance_cents=parse_money(balance, "balance"),
        credit_cents=credit_cents,
        credit_expire=check_credit(credit_cents, parse_date(expire, "credit_expire")),
        tariff=check_text(from_spreadsheet(tariff), "tariff", TARIFF_MAX),
        fee_cents=parse_money(fee, "fee", negative_ok=False),
        frozen=parse_flag(frozen, "frozen"),
        disabled=parse_flag(disabled, "disabled"),
    )


# ---------------------------------------------------------------------------------------
# writing


class RowWriter(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


def csv_writer(out: TextIO) -> RowWriter:
    """A writer whose output `read_records` reads back: `\\n` line ends, minimal quoting."""
    return csv.writer(out, lineterminator="\n")


def subscriber_cells(row: Subscriber) -> list[str]:
    """A stored subscriber as a file row; the raw credit, even an expired one, so a
    re-import restores exactly what was stored. Text cells are `spreadsheet_safe`."""
    return [
        spreadsheet_safe(row.login),
        spreadsheet_safe(row.name),
        ";".join(p.phone for p in row.phones),
        str(from_cents(row.balance_cents)),
        str(from_cents(row.credit_cents)),
        row.credit_expire.isoformat() if row.credit_expire else "",
        spreadsheet_safe(row.tariff),
        str(from_cents(row.fee_cents)),
        "1" if row.frozen else "0",
        "1" if row.disabled else "0",
    ]
