"""A small, strict reader of PHP `serialize()` output, enough for Ubilling's getmoney blob.

Only scalars and arrays: `N;`, `b:0;`, `i:12;`, `d:-15.5;`, `s:3:"abc";` (length in bytes),
`a:2:{…}`. Objects, references and anything malformed or trailing raise PhpSerializeError.
Floats are returned as Decimal, read from the text, so `d:150.1;` is exactly 150.1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from billing_client.errors import PhpSerializeError

PhpValue: TypeAlias = "bool | int | Decimal | str | dict[int | str, PhpValue] | None"

_INT = re.compile(rb"-?[0-9]+")
_FLOAT = re.compile(rb"-?(?:[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)")
_MAX_DEPTH = 8


def loads(data: bytes) -> PhpValue:
    value, end = _read(data, 0, 0)
    if end != len(data):
        raise PhpSerializeError(f"trailing data at byte {end}")
    return value


def _expect(data: bytes, pos: int, token: bytes) -> int:
    if data[pos : pos + len(token)] != token:
        raise PhpSerializeError(f"expected {token!r} at byte {pos}")
    return pos + len(token)


def _until(data: bytes, pos: int, stop: bytes, pattern: re.Pattern[bytes]) -> tuple[bytes, int]:
    end = data.find(stop, pos)
    if end < 0:
        raise PhpSerializeError(f"unterminated value at byte {pos}")
    text = data[pos:end]
    if not pattern.fullmatch(text):
        raise PhpSerializeError(f"malformed number {text[:20]!r} at byte {pos}")
    return text, end + len(stop)


def _read(data: bytes, pos: int, depth: int) -> tuple[PhpValue, int]:
    if depth > _MAX_DEPTH:
        raise PhpSerializeError("nesting too deep")
    kind = data[pos : pos + 1]
    if kind == b"N":
        return None, _expect(data, pos + 1, b";")
    pos = _expect(data, pos + 1, b":")
    reader = _READERS.get(kind)
    if reader is None:
        raise PhpSerializeError(f"unsupported type {kind!r} at byte {pos - 1}")
    return reader(data, pos, depth)


def _read_bool(data: bytes, pos: int, _depth: int) -> tuple[PhpValue, int]:
    text, pos = _until(data, pos, b";", re.compile(rb"[01]"))
    return text == b"1", pos


def _read_int(data: bytes, pos: int, _depth: int) -> tuple[PhpValue, int]:
    text, pos = _until(data, pos, b";", _INT)
    return int(text), pos


def _read_float(data: bytes, pos: int, _depth: int) -> tuple[PhpValue, int]:
    text, pos = _until(data, pos, b";", _FLOAT)
    try:
        return Decimal(text.decode("ascii")), pos
    except InvalidOperation as exc:  # pragma: no cover - the pattern already checked it
        raise PhpSerializeError(f"malformed float at byte {pos}") from exc


def _read_string(data: bytes, pos: int, _depth: int) -> tuple[PhpValue, int]:
    text, pos = _until(data, pos, b":", re.compile(rb"[0-9]+"))
    length = int(text)
    pos = _expect(data, pos, b'"')
    raw = data[pos : pos + length]
    if len(raw) != length:
        raise PhpSerializeError("string shorter than its declared length")
    pos = _expect(data, pos + length, b'";')
    try:
        return raw.decode("utf-8"), pos
    except UnicodeDecodeError as exc:
        raise PhpSerializeError("string is not UTF-8") from exc


def _read_array(data: bytes, pos: int, depth: int) -> tuple[PhpValue, int]:
    text, pos = _until(data, pos, b":", re.compile(rb"[0-9]+"))
    count = int(text)
    pos = _expect(data, pos, b"{")
    result: dict[int | str, PhpValue] = {}
    for _ in range(count):
        key, pos = _read(data, pos, depth + 1)
        if not isinstance(key, int | str) or isinstance(key, bool):
            raise PhpSerializeError("array key is not an int or a string")
        if key in result:
            raise PhpSerializeError(f"duplicate array key {key!r}")
        result[key], pos = _read(data, pos, depth + 1)
    return result, _expect(data, pos, b"}")


_READERS: dict[bytes, Callable[[bytes, int, int], tuple[PhpValue, int]]] = {
    b"b": _read_bool,
    b"i": _read_int,
    b"d": _read_float,
    b"s": _read_string,
    b"a": _read_array,
}
"""A reader per PHP type letter, called after the `:` that follows the letter."""
