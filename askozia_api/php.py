"""How Ubilling's PHP reads requests and writes answers, reproduced byte for byte.

Ubilling's clients (dialplans, old Askozia scripts, pbxbridge's own Ubilling backend) parse
the exact text PHP prints, so the faces print it the same way: `empty()` for flags,
`trim()` for numbers, `vf()` for the key, `json_encode()` with default flags, MySQL's
rendering of a DOUBLE, `serialize()` of floats as PHP 7.1+ does, and the transliteration of
`param=realname`. Each function names the PHP it stands for; nothing here knows pbxbridge.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

_VF_BLACKLIST = re.compile(r"[~@+?%/;=*><\"'\-]")
_PHP_TRIM = " \t\n\r\0\x0b"


def php_empty(value: str | None) -> bool:
    """PHP `empty()` of a GET value (ubRouting::checkGet): absent, "" and "0" are empty."""
    return value is None or value in {"", "0"}


def php_trim(value: str) -> str:
    """PHP `trim()`: spaces, tabs, CR, LF, NUL and vertical tabs off both ends."""
    return value.strip(_PHP_TRIM)


def vf(value: str) -> str:
    """Ubilling's `vf()` in its default (blacklist) mode: drops ~@+?%/;=*><"'- ."""
    return _VF_BLACKLIST.sub("", value)


def digits(value: str) -> str:
    """Ubilling's `vf($x, 3)`: the digits only."""
    return "".join(c for c in value if "0" <= c <= "9")


def php_json(value: Any) -> str:
    """`json_encode()` with default flags: non-ASCII as \\uXXXX, slashes escaped."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def mysql_number(value: Decimal) -> str:
    """A MySQL DOUBLE as PHP receives it: `150`, `-50`, `12.5` (no trailing zeros)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def php_float(value: float) -> str:
    """A float as `serialize()` writes it with serialize_precision = -1 (PHP 7.1+): the
    shortest text that reads back as the same double; integral values without `.0`,
    exponents as `1.0E+25`."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if mantissa.endswith(".0"):
        mantissa = mantissa[:-2]
    if not e:
        return mantissa
    if "." not in mantissa:
        mantissa += ".0"
    power = int(exponent)
    return f"{mantissa}E{'+' if power >= 0 else '-'}{abs(power)}"


def php_round2(value: Decimal) -> float:
    """PHP `round($x, 2)` of a balance already in kopecks: the nearest double."""
    return float(value.quantize(Decimal("0.01")))


def serialize_getmoney(code: str, cash: Decimal, fee: Decimal) -> str:
    """`serialize(array(code, round(Cash, 2), round(Fee, 2)))` (PBXNum::getReply)."""
    parts = (
        f'i:0;s:{len(code.encode())}:"{code}";',
        f"i:1;d:{php_float(php_round2(cash))};",
        f"i:2;d:{php_float(php_round2(fee))};",
    )
    return "a:3:{" + "".join(parts) + "}"


# zb_TranslitString($string, true): the case-keeping table of the Ukrainian locale, as the
# live Ubilling answered it (`Петрович` → `Petrovych`: и is y).
_TRANSLIT = {
    "а": "a", "А": "A", "б": "b", "Б": "B", "в": "v", "В": "V", "г": "g", "Г": "G",
    "д": "d", "Д": "D", "е": "e", "Е": "E", "ё": "e", "Ё": "E", "ж": "zh", "Ж": "Zh",
    "з": "z", "З": "Z", "и": "y", "И": "Y", "й": "y", "Й": "Y", "к": "k", "К": "K",
    "л": "l", "Л": "L", "м": "m", "М": "M", "н": "n", "Н": "N", "о": "o", "О": "O",
    "п": "p", "П": "P", "р": "r", "Р": "R", "с": "s", "С": "S", "т": "t", "Т": "T",
    "у": "u", "У": "U", "ф": "f", "Ф": "F", "х": "h", "Х": "H", "ц": "c", "Ц": "C",
    "ч": "ch", "Ч": "Ch", "ш": "sh", "Ш": "Sh", "щ": "sch", "Щ": "Sch", "ъ": "", "Ъ": "",
    "ы": "y", "Ы": "Y", "ь": "", "Ь": "", "э": "e", "Э": "E", "ю": "yu", "Ю": "Yu",
    "я": "ya", "Я": "Ya",
}  # fmt: skip

# AsteriskGetInfoApi keeps only a-zA-Zа-яА-Яё0-9 and spaces before transliterating, so the
# Ukrainian і, ї, є, ґ (and Ё, outside А-Я) are deleted: `Іван` becomes `van`.
_REALNAME_DROPPED = re.compile(r"[^a-zA-Zа-яА-Яё0-9 ]+")


def realname_translit(realname: str) -> str:
    """The name `param=realname` answers after the login and a dash."""
    kept = _REALNAME_DROPPED.sub("", realname)
    return "".join(_TRANSLIT.get(c, c) for c in kept)
