"""SMS text: GSM-7 or UCS-2, splitting for single-PDU modems, transliteration, C-escapes.

A text is sent as GSM-7 when every character is in the GSM 03.38 default alphabet or its
extension table (those cost two septets), else as UCS-2 (UTF-16 code units: a character
outside the BMP, an emoji, costs two). One SMS holds 160 septets or 70 code units; a part
of a concatenated SMS 153 or 67, because its header takes the rest.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Literal

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet, indexed by septet (0x1B is the escape to the extension)."""

GSM7_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
"""Septets that follow 0x1B, and the characters they stand for."""

_BASIC_SET = frozenset(GSM7_BASIC) - {"\x1b"}
_EXTENSION_SET = frozenset(GSM7_EXTENSION.values())

Encoding = Literal["gsm7", "ucs2"]

SINGLE_LIMIT: dict[Encoding, int] = {"gsm7": 160, "ucs2": 70}
PART_LIMIT: dict[Encoding, int] = {"gsm7": 153, "ucs2": 67}


def encoding_of(text: str) -> Encoding:
    return "gsm7" if all(c in _BASIC_SET or c in _EXTENSION_SET for c in text) else "ucs2"


def _cost(char: str, encoding: Encoding) -> int:
    if encoding == "gsm7":
        return 2 if char in _EXTENSION_SET else 1
    return 2 if ord(char) > 0xFFFF else 1


def length(text: str, encoding: Encoding | None = None) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    enc = encoding or encoding_of(text)
    return sum(_cost(c, enc) for c in text)


def parts(text: str, encoding: Encoding | None = None) -> int:
    """How many SMS the network carries the text in: 1 up to 160 septets (70 code units),
    else one per 153 (67); 0 for no text. The admin page's counter (web/static/
    sms-count.js) does the same sums as the staff type."""
    enc = encoding or encoding_of(text)
    size = length(text, enc)
    if size <= SINGLE_LIMIT[enc]:
        return 1 if size else 0
    return -(-size // PART_LIMIT[enc])


def split(text: str) -> list[str]:
    """The text cut into separate SMS for a modem that sends one PDU only.

    Fits in one: one piece. Otherwise pieces of at most 153 septets or 67 code units, cut
    after a space or newline when one falls in the last fifth of a piece, else anywhere
    (never inside a surrogate pair or a GSM-7 escape, which are one character here).
    """
    enc = encoding_of(text)
    if length(text, enc) <= SINGLE_LIMIT[enc]:
        return [text]
    limit = PART_LIMIT[enc]
    pieces: list[str] = []
    start = 0
    while start < len(text):
        used = 0
        end = start
        while end < len(text) and used + _cost(text[end], enc) <= limit:
            used += _cost(text[end], enc)
            end += 1
        if end < len(text):
            floor = start + (end - start) * 4 // 5
            cut = max(text.rfind(" ", floor, end), text.rfind("\n", floor, end))
            if cut >= floor and cut > start:
                end = cut + 1
        pieces.append(text[start:end])
        start = end
    return pieces


# Ukrainian (the 2010 national table, simplified) plus the letters only Russian has.
# Є Ї Й Ю Я are written differently at the start of a word.
_TRANSLIT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "h",
    "ґ": "g",
    "д": "d",
    "е": "e",
    "є": "ie",
    "ж": "zh",
    "з": "z",
    "и": "y",
    "і": "i",
    "ї": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ь": "",
    "ю": "iu",
    "я": "ia",
    "ё": "io",
    "ы": "y",
    "э": "e",
    "ъ": "",
    "'": "",
    "ʼ": "",
    "’": "",
    "«": '"',
    "»": '"',
    "„": '"',
    "“": '"',
    "”": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "№": "No",
}
_WORD_START = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_APOSTROPHES = frozenset("'ʼ’")


def transliterate(text: str) -> str:
    """Ukrainian/Russian Cyrillic to Latin; other characters are kept.

    Letters shared by both languages follow the Ukrainian table (г → h, и → y). An
    apostrophe is dropped only between two Cyrillic letters (a Ukrainian apostrophe).
    """
    out: list[str] = []
    for i, char in enumerate(text):
        lower = char.lower()
        prev = text[i - 1] if i > 0 else ""
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if char in _APOSTROPHES:
            out.append("" if _is_cyrillic(prev) and _is_cyrillic(nxt) else char)
            continue
        starts_word = not prev.isalpha() and prev not in _APOSTROPHES
        latin = _WORD_START.get(lower) if starts_word else None
        if latin is None:
            latin = _TRANSLIT.get(lower)
        if latin is None:
            out.append(char)
            continue
        if char != lower and latin:
            whole_upper = (nxt.isalpha() and nxt.isupper()) or (prev.isalpha() and prev.isupper())
            latin = latin.upper() if whole_upper and len(latin) > 1 else latin.capitalize()
        out.append(latin)
    return "".join(out)


def _is_cyrillic(char: str) -> bool:
    return bool(char) and "\u0400" <= char <= "\u04ff"


def c_escape(text: str) -> str:
    """`\\` → `\\\\`, LF → `\\n`, CR → `\\r`: what `ast_unescape_c` turns back (wdoekes
    chan_dongle, chan_quectel), so a newline survives an AMI header."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def flatten_newlines(text: str) -> str:
    """For chan_dongle 1.1, which cannot send a newline: each line break becomes a space."""
    return re.sub(r"\r\n|\r|\n", " ", text)


def normalise(text: str) -> str:
    """The text as stored: NFC, CR LF and lone CR as LF. NUL characters are dropped."""
    text = unicodedata.normalize("NFC", text.replace("\x00", ""))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_key(text: str) -> str:
    """What deduplication compares: the text without empty lines, hashed.

    DongleNewSMS drops empty lines while DongleNewSMSBase64 keeps them; both copies of one
    SMS must compare equal.
    """
    lines = [line for line in re.split(r"[\r\n]", normalise(text)) if line]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
