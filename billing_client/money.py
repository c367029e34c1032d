"""Money is kept as integer kopecks in storage and as Decimal everywhere else."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from billing_client.errors import MoneyError

CENT = Decimal("0.01")


def parse_amount(text: str | int | float | Decimal) -> Decimal:
    """`"12.5"`, `"12,50"`, `12` → `Decimal("12.50")`; anything else raises MoneyError."""
    raw = str(text).strip().replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise MoneyError(f"not an amount: {str(text)[:40]!r}") from exc
    if not value.is_finite():
        raise MoneyError(f"not an amount: {str(text)[:40]!r}")
    if value != value.quantize(CENT):
        raise MoneyError(f"more than two decimals: {str(text)[:40]!r}")
    if abs(value) >= Decimal("1e12"):
        raise MoneyError(f"amount too large: {str(text)[:40]!r}")
    return value.quantize(CENT)


def to_cents(value: Decimal) -> int:
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)
