"""The values a line is made of, checked before anything is written.

Every value ends up on one line of an ini file Asterisk parses (`key = value`), where a
newline starts a new setting, `;` starts a comment and `[` opens a section. So each value
is held to a small character set here, and `lines.pjsip.ini_value` refuses anything that
slipped through: BILLmanager passes what its customers typed.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from lines.codecs import check_codecs
from lines.errors import BadValue

NAME = re.compile(r"[a-z0-9]{1,40}")
"""A line's name: SIP username, endpoint, auth and aor section, BILLmanager's id."""
ACCOUNT = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
"""BILLmanager's --user (the subscriber's login when one exists): the billing's login form."""
PASSWORD = re.compile(r"[A-Za-z0-9!@%^*_+=.,:?~\-]{8,64}")
"""A SIP password pbxbridge writes: no space (the OK line is space-separated), no `;`
(a comment), no quotes, brackets, `#`, `$` or backslash."""
_NUMBER = re.compile(r"\+?[0-9]{1,32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME_TEXT = re.compile(r"[\w .\-]{1,64}")
_CALLERID = re.compile(r'(?:"(?P<quoted>[^"]*)"|(?P<bare>[^<"]*?))\s*<(?P<number>[^>]*)>')

ACCEPTED = ("callerid", "max_channels", "codecs")
"""The parameters a line takes from BILLmanager; every other one is ignored."""


def password() -> str:
    """A new SIP password: 24 characters from `secrets` (URL-safe alphabet)."""
    return secrets.token_urlsafe(18)


def check_name(text: str) -> str:
    if not NAME.fullmatch(text):
        raise BadValue(f"id {_show(text)}: a line id is 1-40 lowercase letters and digits")
    return text


def check_account(text: str) -> str:
    if not ACCOUNT.fullmatch(text):
        raise BadValue(f"user {_show(text)}: 1-64 letters, digits and _ . @ -")
    return text


def usable_password(text: str) -> bool:
    return PASSWORD.fullmatch(text) is not None


def check_max_channels(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 100:
        raise BadValue(f"max_channels {_show(text)}: a whole number from 1 to 100")
    return int(text)


@dataclass(frozen=True, slots=True)
class CallerId:
    number: str
    name: str = ""

    def render(self) -> str:
        """As PJSIP's `callerid` option reads it."""
        return f'"{self.name}" <{self.number}>' if self.name else f"<{self.number}>"

    @classmethod
    def parse(cls, text: str) -> CallerId | None:
        """`380501234567`, `+380501234567`, `Ivan <380…>` or `"Ivan P." <380…>`; empty:
        None (the endpoint gets no callerid)."""
        if _CONTROL.search(text):
            raise BadValue(f"callerid {_show(text)}: no line breaks or control characters")
        value = text.strip()
        if not value:
            return None
        match = _CALLERID.fullmatch(value)
        number, name = value, ""
        if match is not None:
            number = match["number"].strip()
            name = (match["quoted"] if match["quoted"] is not None else match["bare"]).strip()
        if not _NUMBER.fullmatch(number):
            raise BadValue(f"callerid {_show(text)}: the number is + and 1-32 digits")
        if name and not _NAME_TEXT.fullmatch(name):
            raise BadValue(
                f"callerid {_show(text)}: the name is up to 64 letters, digits, spaces, . - _"
            )
        return cls(number, name)


@dataclass(frozen=True, slots=True)
class Params:
    """What a BILLmanager call sets on a line (None: leave as it is)."""

    callerid: CallerId | None = None
    clear_callerid: bool = False
    max_channels: int | None = None
    codecs: tuple[str, ...] | None = None


def check_params(given: dict[str, str]) -> tuple[Params, list[str]]:
    """The accepted parameters checked, and one warning per parameter ignored.

    BILLmanager passes every parameter and addon of the tariff: the ones a line does not
    take are ignored (named in the warnings, values not repeated); a malformed accepted
    one refuses the whole call (BadValue).
    """
    warnings = [
        f"parameter --{_show_key(name)} ignored (a line takes {', '.join(ACCEPTED)})"
        for name in given
        if name not in ACCEPTED
    ]
    callerid = None
    clear = False
    if "callerid" in given:
        callerid = CallerId.parse(given["callerid"])
        clear = callerid is None
    return (
        Params(
            callerid=callerid,
            clear_callerid=clear,
            max_channels=(
                check_max_channels(given["max_channels"]) if "max_channels" in given else None
            ),
            codecs=check_codecs(given["codecs"]) if "codecs" in given else None,
        ),
        warnings,
    )


def _show(text: str) -> str:
    """A refused value as the message shows it: quoted, escaped, at most 40 characters."""
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


def _show_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", name) else repr(name[:40])
