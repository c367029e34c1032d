"""The one phone-number normaliser: everything that compares numbers goes through it."""

from __future__ import annotations

import functools
import re

import phonenumbers

_ALLOWED = re.compile(r"[0-9+()\-. ]{1,40}")
_FAST_MAX = 17  # phonenumbers' longest national number; longer texts take the full parse


class _PlainDigits:
    """The default region's common CallerID shapes, answered without `phonenumbers.parse`.

    `+<cc><nsn>`, `<cc><nsn>` and `0<nsn>` (digits only, the nsn not starting with 0) give
    `+<cc><nsn>` when `phonenumbers.is_valid_number` says so, and fall back to the full
    parse otherwise: the same steps `parse` takes for these shapes (country code, national
    prefix `0` stripped only when the number without it is the viable one, the region's
    general pattern deciding whether `<cc>` is a country code), so the answer is the same
    (tests/primitives/test_phones.py checks it against `parse` on a corpus). Only regions
    whose metadata makes these steps that simple get one (UA does; regions with another
    national prefix, a parsing rule or a shared country code do not).
    """

    def __init__(self, cc: str, general: re.Pattern[str]) -> None:
        self.cc = cc
        self._code = int(cc)
        self._general = general

    @classmethod
    def for_region(cls, region: str) -> _PlainDigits | None:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if meta is None or meta.country_code is None:
            return None
        cc = str(meta.country_code)
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, ())
        shorter_code = any(
            int(cc[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE for n in range(1, len(cc))
        )
        pattern = meta.general_desc.national_number_pattern if meta.general_desc else None
        if (
            meta.national_prefix != "0"
            or meta.national_prefix_for_parsing != "0"
            or meta.national_prefix_transform_rule
            or meta.international_prefix != "00"
            or tuple(regions) != (region,)
            or shorter_code
            or not pattern
        ):
            return None
        return cls(cc, re.compile(pattern))

    def normalise(self, text: str) -> str | None:
        """E.164 for a valid number of one of the shapes, else None (then ask `parse`)."""
        nsn = self._nsn(text)
        if nsn is None or not (2 <= len(nsn) <= _FAST_MAX) or not nsn.isdigit() or nsn[0] == "0":
            return None
        number = phonenumbers.PhoneNumber(country_code=self._code, national_number=int(nsn))
        if not phonenumbers.is_valid_number(number):
            return None
        return "+" + self.cc + nsn

    def _nsn(self, text: str) -> str | None:
        """The national number `parse` would find in `text`, when its shape is one of ours."""
        if len(text) > _FAST_MAX + 4 or not text.isascii():
            return None
        cc = self.cc
        if text[0] == "+":
            return text[1 + len(cc) :] if text.startswith(cc, 1) else None
        if text[0] == "0":
            # `0…` itself a national number: parse keeps the 0
            return None if self._general.fullmatch(text) else text[1:]
        if text.startswith(cc):
            # parse takes <cc> as the country code when the whole is no national number
            # and the rest is one (or when the whole is too long: not taken here)
            nsn = text[len(cc) :]
            if not self._general.fullmatch(text) and self._general.fullmatch(nsn):
                return nsn
        return None


class PhoneNormaliser:
    """Turns any written form of a number into E.164, or None when it is not a phone number.

    `0501234567`, `380501234567`, `+380501234567` and `+38 (050) 123-45-67` all become
    `+380501234567` with region UA. Anything unparseable, invalid, or carrying characters
    outside digits and the usual punctuation (a newline, a letter) gives None: callers turn
    that into NOTFOUND, never an exception.
    """

    def __init__(self, default_region: str = "UA", cache_size: int = 100_000) -> None:
        self.default_region = default_region.upper()
        self._plain = _PlainDigits.for_region(self.default_region)
        # phonenumbers.parse costs ~60 µs; the same callers call again and again.
        self._cached = functools.lru_cache(maxsize=cache_size)(self._normalise)

    @property
    def memo_size(self) -> int:
        """How many CallerIDs the memo holds now (at most `cache_size`)."""
        return self._cached.cache_info().currsize

    def normalise(self, raw: str | None) -> str | None:
        if raw is None:
            return None
        return self._cached(raw)

    def _normalise(self, raw: str) -> str | None:
        text = raw.strip(" \t")
        if not text or not _ALLOWED.fullmatch(text):
            return None
        if self._plain is not None:
            quick = self._plain.normalise(text)
            if quick is not None:
                return quick
        return self._parse(text)

    def _parse(self, text: str) -> str | None:
        """The full phonenumbers path (any written form)."""
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
