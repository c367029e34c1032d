"""A campaign's report as rows of cells: what `campaign report` prints and both CSV exports
(`campaign report --csv` and the API's `report.csv`) write, so the columns cannot drift.

CSV is read by spreadsheets, which run a cell starting with `=`, `+`, `-` or `@` as a
formula. Of the cells here only `extension` is free text that can start so (`+1`); it goes
through the same quoting as the subscriber export (`spreadsheet_safe`). Numbers are E.164
(`+380…` means what it says: a phone, as the subscriber export writes them), the other cells
are words, digits and times pbxbridge wrote itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TextIO

from billing_client.local.csvio import spreadsheet_safe
from callfile_spooler.campaigns import NumberReport
from callfile_spooler.outcomes import reason_words
from primitives.clock import Clock

COLUMNS = (
    "number",
    "extension",
    "status",
    "attempts",
    "last_outcome",
    "reason",
    "reason_text",
    "digit",
    "last_attempt",
)
"""`reason` is Asterisk's REASON code of the last attempt, `reason_text` says it in words."""

TEXT_COLUMNS = frozenset({"extension"})
"""Free-text cells a spreadsheet could take for a formula (quoted in CSV)."""

LOCAL_TIME = "%Y-%m-%d %H:%M:%S %Z"


def local_time(clock: Clock, instant: datetime | None) -> str:
    """`2026-11-23 10:00:00 EET`: the service's timezone, named (as the CLI prints times)."""
    return clock.local(instant).strftime(LOCAL_TIME) if instant else ""


def cells(report: NumberReport, clock: Clock) -> list[object]:
    """One number's row, in COLUMNS order (empty cells for what it has not got)."""
    return [
        report.number,
        report.extension or "",
        report.status,
        report.attempts,
        report.last_outcome or "",
        "" if report.last_reason is None else report.last_reason,
        reason_words(report.last_reason),
        report.digit or "",
        local_time(clock, report.last_attempt_at),
    ]


_QUOTED = [name in TEXT_COLUMNS for name in COLUMNS]


def _safe(row: Sequence[object]) -> list[object]:
    return [
        spreadsheet_safe(cell) if quoted and isinstance(cell, str) else cell
        for cell, quoted in zip(row, _QUOTED, strict=True)
    ]


def write_csv(out: TextIO, rows: Iterable[Sequence[object]], *, header: bool = True) -> None:
    """Rows of `cells` as CSV (LF line ends), free text made safe for spreadsheets."""
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(_safe(row) for row in rows)


def csv_text(rows: Iterable[Sequence[object]], *, header: bool = True) -> str:
    """`write_csv` into a string (one chunk of a streamed export)."""
    out = io.StringIO()
    write_csv(out, rows, header=header)
    return out.getvalue()
