"""Writing AGI command lines: the one place that puts a value on the wire.

Asterisk splits a command line into words the way `res_agi.c` `parse_args()` does:
whitespace separates words outside double quotes, a double quote toggles quoting, and a
backslash takes the next character literally, inside quotes or not. A line ends at the
first LF, and a line longer than Asterisk's buffer is cut and its tail run as a second
command. So a value that reached the wire unescaped could end the command and start
another one (`EXEC System …`).

The rules here:

* `quote()` is the only way a free-form value (a variable's value, a message, an
  application's arguments, escape digits) is written: in double quotes, with backslash and
  double quote escaped and CR, LF and NUL replaced by a space.
* Identifiers (variable names, application names, sound names, digit strings) are
  checked against strict patterns and written bare, as Asterisk's own examples do.
* `format_command()` builds the line and refuses any word that is neither a bare safe
  token nor exactly what `quote()` produces, and any line longer than the limit. A caller
  cannot send raw text by accident.
* `set_variable_line()` is the same for the commonest command, `SET VARIABLE name value`,
  without re-checking what it just built: the name is checked once and its encoded prefix
  kept, the value goes through `quote()` as always.
"""

from __future__ import annotations

import re

_QUOTE_TABLE = str.maketrans({"\\": "\\\\", '"': '\\"', "\r": " ", "\n": " ", "\0": " "})

COMMAND_WORD = re.compile(r"[A-Z]+")
"""The first word of a command: upper-case letters only (also keeps out `failure`)."""

BARE_TOKEN = re.compile(r"[^\s\"\\\x00-\x1f\x7f]+")
"""A word written without quotes: no whitespace, quote, backslash or control character."""

QUOTED_TOKEN = re.compile(r'"(?:[^"\\\r\n\x00]|\\["\\])*"')
"""Exactly what `quote()` produces."""

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\([A-Za-z0-9_,.:/@#+=-]*\))?")
"""A channel variable or a function call such as `CALLERID(num)` or `HASH(a,b)`."""

APPLICATION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
SOUND_NAME = re.compile(r"[A-Za-z0-9_./-]+")
"""A sound file without extension, e.g. `agent-pass`, `digits/1`, `/var/lib/x/prompt`."""

DTMF_DIGITS = re.compile(r"[0-9*#A-Da-d]*")
DIGIT_STRING = re.compile(r"[0-9*#]+")

DEFAULT_MAX_COMMAND_BYTES = 2047
"""Asterisk before 20.16/21.11/22.6 reads at most 2047 bytes of a line (newline included)."""


def quote(value: str) -> str:
    """Write `value` as one quoted AGI word that Asterisk reads back unchanged.

    CR, LF and NUL cannot be carried by the protocol at all; they become spaces.
    """
    return f'"{value.translate(_QUOTE_TABLE)}"'


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise ValueError(f"not a valid {what}: {value!r}")
    return value


def variable_name(name: str) -> str:
    """`name` if it is a plain variable or function name (`CALLERID(num)`), else ValueError."""
    return _checked(VARIABLE_NAME, name, "channel variable name")


def application_name(name: str) -> str:
    return _checked(APPLICATION_NAME, name, "dialplan application name")


def sound_name(name: str) -> str:
    return _checked(SOUND_NAME, name, "sound name")


def escape_digit_set(digits: str) -> str:
    """The set of DTMF keys that interrupt playback, quoted (an empty set is `""`)."""
    return quote(_checked(DTMF_DIGITS, digits, "set of DTMF digits"))


def digit_string(digits: str) -> str:
    return _checked(DIGIT_STRING, digits, "digit string")


def integer(value: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}")
    return str(value)


def format_command(*words: str, max_bytes: int = DEFAULT_MAX_COMMAND_BYTES) -> bytes:
    """The encoded command line (newline included) for `words`.

    The first word must be an upper-case command word; every other word must be a bare
    safe token (an identifier or number) or the output of `quote()`.
    """
    if not words:
        raise ValueError("an AGI command needs at least one word")
    _checked(COMMAND_WORD, words[0], "AGI command word")
    for word in words[1:]:
        if BARE_TOKEN.fullmatch(word) is None and QUOTED_TOKEN.fullmatch(word) is None:
            raise ValueError(f"unsafe AGI word {word!r}: pass values through agi.quote()")
    return _within(max_bytes, (" ".join(words) + "\n").encode("utf-8"))


def _within(max_bytes: int, line: bytes) -> bytes:
    if len(line) > max_bytes:
        raise ValueError(
            f"AGI command of {len(line)} bytes exceeds {max_bytes} (Asterisk would split it)"
        )
    return line


_SET_PREFIXES: dict[str, bytes] = {}
"""`SET VARIABLE <name> ` encoded, per checked variable name (routes use a few dozen)."""
_SET_PREFIXES_MAX = 4096


def set_variable_line(name: str, value: str, max_bytes: int = DEFAULT_MAX_COMMAND_BYTES) -> bytes:
    """`format_command("SET", "VARIABLE", variable_name(name), quote(value))`, cheaper: the
    checked name's prefix is built once, and `quote()`'s output needs no second check."""
    prefix = _SET_PREFIXES.get(name)
    if prefix is None:
        prefix = f"SET VARIABLE {variable_name(name)} ".encode()
        if len(_SET_PREFIXES) < _SET_PREFIXES_MAX:
            _SET_PREFIXES[name] = prefix
    return _within(max_bytes, prefix + quote(value).encode("utf-8") + b"\n")
