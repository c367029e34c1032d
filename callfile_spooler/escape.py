"""Checking every value that goes into a call file: the one place that does it.

Asterisk reads a call file (`pbx/pbx_spool.c`, `apply_outgoing()`/`parse_line()`) line by
line with `fgets()`, so a value holding a newline ends its line and the rest is read as
another `Key: value` line: a CallerID name or a variable value carrying
`\\nApplication: System` would make Asterisk run a shell command. It then cuts each line at
the first `;` that is not written `\\;`, and at the first `#` that starts the line or
follows a blank (comments), and trims blanks at both ends of the value. Asterisk 1.4 read
lines into a 256-byte buffer and took the rest of a longer line as a new line; newer
versions skip lines over 1023 bytes.

So nothing is escaped here: a value that Asterisk would not read back exactly is refused
with `CallFileValueError`, before anything is written. The rules:

* Identifiers (channel, dial string, context, extension, application, variable names) are
  checked against strict patterns.
* Free text (a CallerID name, a variable value, application data) may hold any printable
  character (Cyrillic included) except `;`, `\\` and `"`; no control or line-separator
  character, no `#` after a blank, no blank at either end.
* `line()` composes every line of the file and checks the whole line again (no control
  character, no comment, at most `MAX_LINE_BYTES` bytes of UTF-8, newline included).
  `callfile.render()` builds files only through it.
"""

from __future__ import annotations

import re

from callfile_spooler.errors import CallFileValueError

MAX_LINE_BYTES = 255
"""Longest line written, newline included: Asterisk 1.4 read 255 bytes of a line."""

CHANNEL = re.compile(r"[A-Za-z][A-Za-z0-9_-]*/[A-Za-z0-9_.@:+*#=/-]+")
"""`Tech/resource`, e.g. `PJSIP/0501234567@trunk`, `Local/0501234567@pbxbridge-dial/n`."""

DIAL_STRING = re.compile(r"[0-9+*#]{1,40}")
"""What `dial_format` renders a number to: digits, `+`, `*`, `#`."""

CONTEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,78}")
EXTENSION = re.compile(r"[A-Za-z0-9*+][A-Za-z0-9*#+_.-]{0,78}")
"""A literal extension (`s`, `play`, `1`, `123#`); `_` first would make it a pattern, `#`
first a comment."""

APPLICATION = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
CALLERID_NUMBER = re.compile(r"[0-9+*#]{0,40}")
KEY = re.compile(r"[A-Za-z][A-Za-z_]*")
CALLERID = re.compile(r'(?:"(?P<quoted>[^"]*)"|(?P<bare>[^"<>]*?))\s*<(?P<number>[^<>]*)>')
"""`"Name" <number>` or `Name <number>`."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
"""Control characters (C0, DEL, C1), line and paragraph separators, lone surrogates."""
_FORBIDDEN_IN_TEXT = re.compile(r'[;\\"]')
_COMMENT_HASH = re.compile(r"(?:^|[ \t])#")
"""A `#` that starts the text or follows a blank: Asterisk cuts the line there."""


def _fail(what: str, value: object, why: str) -> CallFileValueError:
    return CallFileValueError(f"{what} {value!r} refused: {why}")


def _checked(pattern: re.Pattern[str], value: object, what: str, allowed: str) -> str:
    if not isinstance(value, str):
        raise _fail(what, value, f"must be a string, not {type(value).__name__}")
    if pattern.fullmatch(value) is None:
        raise _fail(what, value, f"allowed: {allowed}")
    return value


def channel(value: str) -> str:
    return _checked(CHANNEL, value, "channel", "Tech/resource of letters, digits and _.@:+*#=/-")


def dial_string(value: str) -> str:
    return _checked(DIAL_STRING, value, "dial string", "1-40 of digits, +, *, #")


def context(value: str) -> str:
    return _checked(CONTEXT, value, "context", "letters, digits, _ . - (1-79, not - first)")


SPECIAL_EXTENSIONS = frozenset({"a", "e", "h", "i", "o", "t", "T", "failed", "fax", "talk"})
"""Asterisk runs these on events (hangup, a failed call file, a timeout…): an answered
call sent to `failed` would report itself failed, and be called again."""


def extension(value: str) -> str:
    checked = _checked(
        EXTENSION, value, "extension", "letters, digits, * # + _ . - (1-79; not _ or # first)"
    )
    if checked in SPECIAL_EXTENSIONS:
        raise CallFileValueError(
            f"extension {checked!r} is one Asterisk keeps for its own events "
            f"({', '.join(sorted(SPECIAL_EXTENSIONS))}): not a place to send a call"
        )
    return checked


def application(value: str) -> str:
    return _checked(APPLICATION, value, "application", "letters, digits and _")


def variable_name(value: str) -> str:
    return _checked(VARIABLE_NAME, value, "variable name", "letters, digits and _ (1-64)")


def text(value: str, what: str = "value") -> str:
    """Free text: any printable character except `;`, `\\` and `"`; see the module notes."""
    if not isinstance(value, str):
        raise _fail(what, value, f"must be a string, not {type(value).__name__}")
    bad = _CONTROL.search(value)
    if bad:
        raise _fail(what, value, f"control or line-break character {bad.group()!r}")
    bad = _FORBIDDEN_IN_TEXT.search(value)
    if bad:
        raise _fail(what, value, f"{bad.group()!r} cannot be written in a call file")
    if "#" in value and _COMMENT_HASH.search(value, 1):
        raise _fail(what, value, "'#' after a blank starts a comment")
    if value != value.strip():
        raise _fail(what, value, "blanks at either end would be trimmed")
    return value


def variable_value(value: str) -> str:
    return text(value, "variable value")


def app_data(value: str) -> str:
    return text(value, "application data")


def callerid(value: str) -> str:
    """`"Name" <number>`, `Name <number>`, `<number>`, a bare number, or empty."""
    if not isinstance(value, str):
        raise _fail("CallerID", value, f"must be a string, not {type(value).__name__}")
    if CALLERID_NUMBER.fullmatch(value):
        return value
    match = CALLERID.fullmatch(value)
    if match is None:
        raise _fail("CallerID", value, 'write "Name" <number> or a number')
    name = match.group("quoted") if match.group("quoted") is not None else match.group("bare")
    if name:
        text(name, "CallerID name")
        if "<" in name or ">" in name:
            raise _fail("CallerID", value, "'<' and '>' only around the number")
    _checked(CALLERID_NUMBER, match.group("number"), "CallerID number", "digits, +, *, #")
    return value


def format_callerid(name: str, number: str) -> str:
    """The CallerID line value for `name` and `number` (`"Name" <number>`)."""
    _checked(CALLERID_NUMBER, number, "CallerID number", "digits, +, *, #")
    if not name:
        return number
    return callerid(f'"{text(name, "CallerID name")}" <{number}>')


def integer(value: int, what: str, minimum: int = 0) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(what, value, f"must be an integer >= {minimum}")
    return str(value)


def line(key: str, value: str) -> str:
    """One `Key: value` line, newline included: the only way a line is composed.

    An empty value gives `Key:` with no blank after the colon (as the seed's files and
    Asterisk's own sample write an empty CallerID).
    """
    _checked(KEY, key, "call-file key", "letters and _")
    if not isinstance(value, str):
        raise _fail(key, value, f"must be a string, not {type(value).__name__}")
    composed = f"{key}: {value}\n" if value else f"{key}:\n"
    bad = _CONTROL.search(composed, 0, len(composed) - 1)
    if bad:
        raise _fail(key, value, f"control or line-break character {bad.group()!r}")
    if ";" in value:
        raise _fail(key, value, "';' starts a comment")
    if "#" in composed and _COMMENT_HASH.search(composed):
        raise _fail(key, value, "'#' after a blank starts a comment")
    if value != value.strip():
        raise _fail(key, value, "blanks at either end would be trimmed")
    size = len(composed.encode("utf-8"))
    if size > MAX_LINE_BYTES:
        raise _fail(key, value, f"line of {size} bytes is longer than {MAX_LINE_BYTES}")
    return composed
