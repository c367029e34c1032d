"""Reading a campaign's numbers from CSV or JSON; bad rows are reported by line, not fatal.

CSV: a header with `number`, optionally `extension` and `VAR_<NAME>` columns (each a
channel variable `<NAME>` for that number's call; an empty cell sets nothing).

JSON: `[{"number": …, "extension": …, "vars": {"NAME": "value"}}, …]`. The original
call-out service's `todo.json` (a `phone` and a `context` field holding the IVR code the
callee is asked to press) reads as the same: `phone` is `number`, `context` is `extension`.

Every number goes through the one normaliser (E.164); every extension, variable name and
value through `escape`, so a row that lands is a row whose call file can be written.
Variables named `CAMPAIGN_*` are pbxbridge's own and refused.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from callfile_spooler import escape
from callfile_spooler.errors import NumbersFileError
from primitives.phones import PhoneNormaliser

RESERVED_PREFIX = "CAMPAIGN_"
VAR_PREFIX = "VAR_"
MAX_VARIABLES = 20


@dataclass(frozen=True, slots=True)
class NumberRow:
    line: int
    number: str  # E.164
    extension: str | None
    variables: tuple[tuple[str, str], ...]


@dataclass
class ParsedNumbers:
    rows: list[NumberRow] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    """(line, why) of each row skipped."""


def _variables(items: Iterable[tuple[object, object]]) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for name, value in items:
        if not isinstance(name, str):
            raise ValueError(f"variable name {name!r} is not text")
        escape.variable_name(name)
        if name.upper().startswith(RESERVED_PREFIX):
            raise ValueError(f"variable {name}: CAMPAIGN_* variables are set by pbxbridge")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"variable {name}: {value!r} is not text or a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"variable {name}: {value!r} is not a number a call can carry")
        text = escape.variable_value(str(value))
        escape.line("Setvar", f"{name}={text}")  # the line's length, as the file will have it
        out[name] = text
    if len(out) > MAX_VARIABLES:
        raise ValueError(f"more than {MAX_VARIABLES} variables")
    return tuple(out.items())


def _row(
    line: int,
    raw_number: object,
    raw_extension: object,
    variables: Iterable[tuple[object, object]],
    phones: PhoneNormaliser,
) -> NumberRow:
    if not isinstance(raw_number, str | int) or isinstance(raw_number, bool):
        raise ValueError(f"number {raw_number!r} is not text")
    number = phones.normalise(str(raw_number))
    if number is None:
        raise ValueError(f"{str(raw_number)!r} is not a valid phone number")
    extension: str | None = None
    if raw_extension is not None and raw_extension != "":
        if not isinstance(raw_extension, str | int) or isinstance(raw_extension, bool):
            raise ValueError(f"extension {raw_extension!r} is not text")
        extension = escape.extension(str(raw_extension).strip())
    return NumberRow(line, number, extension, _variables(variables))


Progress = Callable[[int, int], None]
"""`progress(rows read, rows in the file)`, every PROGRESS_EVERY rows and at the end; the
total of a CSV file is its line count (a quoted line break makes it an estimate)."""
PROGRESS_EVERY = 1_000


class _Collector:
    def __init__(self, total: int = 0, progress: Progress | None = None) -> None:
        self.parsed = ParsedNumbers()
        self._first_line: dict[str, int] = {}
        self._total = total
        self._progress = progress
        self._seen = 0

    def done(self) -> None:
        if self._progress is not None:
            self._progress(self._seen, max(self._seen, self._total))

    def add(self, line: int, build: NumberRow | Exception) -> None:
        self._seen += 1
        if self._progress is not None and self._seen % PROGRESS_EVERY == 0:
            self._progress(self._seen, max(self._seen, self._total))
        if isinstance(build, Exception):
            self.parsed.problems.append((line, str(build)))
            return
        earlier = self._first_line.get(build.number)
        if earlier is not None:
            self.parsed.problems.append((line, f"{build.number} repeats line {earlier}"))
            return
        self._first_line[build.number] = line
        self.parsed.rows.append(build)


def _attempt(
    line: int,
    number: object,
    extension: object,
    variables: Iterable[tuple[object, object]],
    phones: PhoneNormaliser,
) -> NumberRow | Exception:
    try:
        return _row(line, number, extension, variables, phones)
    except ValueError as exc:
        return exc


def _variable_columns(names: Iterable[str]) -> None:
    """A bad `VAR_` column is the file's fault, said once, not once per row."""
    for column in names:
        if column.startswith(VAR_PREFIX):
            name = column.removeprefix(VAR_PREFIX)
            escape.variable_name(name)
            if name.upper().startswith(RESERVED_PREFIX):
                raise ValueError(f"{column}: CAMPAIGN_* variables are set by pbxbridge")


def _csv_header(reader: Iterator[list[str]]) -> list[str]:
    """The column names of the header line; NumbersFileError when the file cannot be read."""
    try:
        header = next(reader)
    except StopIteration:
        raise NumbersFileError("the file is empty (expected a header with `number`)") from None
    except csv.Error as exc:
        raise NumbersFileError(f"not CSV: {exc}") from exc
    names = [h.strip() for h in header]
    if "number" not in names:
        raise NumbersFileError(f"the header has no `number` column: {','.join(names)}")
    unknown = [
        n for n in names if n not in ("number", "extension") and not n.startswith(VAR_PREFIX)
    ]
    if unknown:
        raise NumbersFileError(
            f"unknown column(s) {', '.join(unknown)}: use number, extension, VAR_<NAME>"
        )
    if len(set(names)) != len(names):
        raise NumbersFileError("a column is named twice in the header")
    try:
        _variable_columns(names)
    except ValueError as exc:
        raise NumbersFileError(f"header: {exc}") from None
    return names


def parse_csv(
    text: str, phones: PhoneNormaliser, progress: Progress | None = None
) -> ParsedNumbers:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    names = _csv_header(reader)
    collector = _Collector(max(text.count("\n") - 1, 0), progress)
    start = reader.line_num + 1
    line = start
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1  # the line the record starts on
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                collector.add(line, ValueError(f"{len(cells)} cells, the header has {len(names)}"))
                continue
            record = dict(zip(names, cells, strict=True))
            variables = [
                (n.removeprefix(VAR_PREFIX), v)
                for n, v in record.items()
                if n.startswith(VAR_PREFIX) and v != ""
            ]
            collector.add(
                line,
                _attempt(
                    line, record["number"].strip(), record.get("extension"), variables, phones
                ),
            )
    except csv.Error as exc:
        collector.add(start, ValueError(f"unreadable CSV: {exc}"))
    collector.done()
    return collector.parsed


def _json_items(text: str) -> list[tuple[int, object]]:
    """The items of a top-level JSON array, each with the line its text starts on."""
    decoder = json.JSONDecoder()
    index = _skip_blanks(text, 0)
    if not text.startswith("[", index):
        raise NumbersFileError("the JSON must be an array of numbers: [{...}, ...]")
    index = _skip_blanks(text, index + 1)
    items: list[tuple[int, object]] = []
    if text.startswith("]", index):
        return items
    while True:
        try:
            item, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise NumbersFileError(f"not JSON: {exc}") from exc
        items.append((text.count("\n", 0, index) + 1, item))
        index = _skip_blanks(text, end)
        if text.startswith(",", index):
            index = _skip_blanks(text, index + 1)
            continue
        if text.startswith("]", index) and not text[index + 1 :].strip():
            return items
        line = text.count("\n", 0, index) + 1
        raise NumbersFileError(f"not JSON: expected , or ] at line {line}")


def _skip_blanks(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def parse_json(
    text: str, phones: PhoneNormaliser, progress: Progress | None = None
) -> ParsedNumbers:
    return _parse_items(_json_items(text.removeprefix("\ufeff")), phones, progress)


def parse_items(items: Sequence[object], phones: PhoneNormaliser) -> ParsedNumbers:
    """Items of the JSON format already decoded (an API body): the same rules, and each
    problem's "line" is the item's position, counted from 1."""
    return _parse_items(list(enumerate(items, start=1)), phones, None)


def _parse_items(
    items: list[tuple[int, object]], phones: PhoneNormaliser, progress: Progress | None
) -> ParsedNumbers:
    collector = _Collector(len(items), progress)
    for line, item in items:
        if isinstance(item, str | int) and not isinstance(item, bool):
            collector.add(line, _attempt(line, item, None, (), phones))
            continue
        if not isinstance(item, dict):
            collector.add(line, ValueError(f"{item!r} is not a number or an object"))
            continue
        number = item.get("number", item.get("phone"))
        if number is None:
            collector.add(line, ValueError("no `number`"))
            continue
        extension = item.get("extension", item.get("context"))
        raw_vars = item.get("vars", {})
        if not isinstance(raw_vars, Mapping):
            collector.add(line, ValueError("`vars` must be an object"))
            continue
        collector.add(line, _attempt(line, number, extension, raw_vars.items(), phones))
    collector.done()
    return collector.parsed


def parse_numbers(
    text: str,
    phones: PhoneNormaliser,
    *,
    fmt: str | None = None,
    progress: Progress | None = None,
) -> ParsedNumbers:
    """CSV or JSON (`fmt` "csv"/"json", else guessed: JSON starts with `[`)."""
    if fmt is None:
        fmt = "json" if text.lstrip("\ufeff \t\r\n").startswith("[") else "csv"
    if fmt == "json":
        return parse_json(text, phones, progress)
    if fmt == "csv":
        return parse_csv(text, phones, progress)
    raise NumbersFileError(f"unknown format {fmt!r} (csv or json)")


def read_numbers_file(
    path: Path, phones: PhoneNormaliser, progress: Progress | None = None
) -> ParsedNumbers:
    """Read and parse a file (blocking: call it in a thread from async code; `progress`
    is then called from that thread)."""
    suffix = path.suffix.lower().lstrip(".")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NumbersFileError(f"{path}: {exc}") from exc
    fmt = suffix if suffix in ("csv", "json") else None
    return parse_numbers(text, phones, fmt=fmt, progress=progress)
