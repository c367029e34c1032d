"""The one phone-number normaliser: everything that compares numbers goes through it."""

from __future__ import annotations

import functools
import re

import phonenumbers

_ALLOWED = re.compile(r"[0-9+()\-. ]{1,40}")


class PhoneNormaliser:
    """Turns any written form of a number into E.164, or None when it is not a phone number.

    `0501234567`, `380501234567`, `+380501234567` and `+38 (050) 123-45-67` all become
    `+380501234567` with region UA. Anything unparseable, invalid, or carrying characters
    outside digits and the usual punctuation (a newline, a letter) gives None: callers turn
    that into NOTFOUND, never an exception.
    """

    def __init__(self, default_region: str = "UA", cache_size: int = 100_000) -> None:
        self.default_region = default_region.upper()
        # phonenumbers.parse costs ~60 µs; the same callers call again and again.
        self._cached = functools.lru_cache(maxsize=cache_size)(self._normalise)

    def normalise(self, raw: str | None) -> str | None:
        if raw is None:
            return None
        return self._cached(raw)

    def _normalise(self, raw: str) -> str | None:
        text = raw.strip(" \t")
        if not text or not _ALLOWED.fullmatch(text):
            return None
        try:
            parsed = phonenumbers.parse(text, self.default_region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(parsed):
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def national(self, e164: str) -> str:
        """The number as dialled inside its country (`0501234567`), for Ubilling queries.

        Numbers of other countries stay in E.164.
        """
        parsed = phonenumbers.parse(e164, None)
        if phonenumbers.region_code_for_number(parsed) != self.default_region:
            return e164
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return re.sub(r"\D", "", national)

    def is_domestic(self, e164: str) -> bool:
        """Whether the number belongs to the default region's numbering plan."""
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) == (
            self.default_region
        )

    def national_significant(self, e164: str) -> str:
        """The number without country code or trunk prefix (`501234567`), for dial strings.

        E.164 is `+`, the country code, then this: the country code is what lies between.
        """
        return phonenumbers.national_significant_number(phonenumbers.parse(e164, None))

    def is_mobile(self, e164: str) -> bool:
        """Whether an SMS can reach the number: a mobile, or a number its country's plan
        does not tell from one (FIXED_LINE_OR_MOBILE, as in the US)."""
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
        return kind in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
