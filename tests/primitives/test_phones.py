"""PhoneNormaliser: the plain-digit shortcut answers as phonenumbers.parse does, the memo
is bounded and answers as the unmemoised path does."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from primitives.phones import PhoneNormaliser

REGIONS = ("UA", "PL", "DE", "GB", "FR", "IT", "US", "RU", "KZ", "BY", "MD", "CZ")


def _corpus(region: str, rng: random.Random) -> list[str]:
    """Digit strings in the shortcut's shapes (and around them) for `region`: the region's
    example numbers written every way, and random digits of every length 1–18."""
    cc = str(phonenumbers.country_code_for_region(region))
    nsns = []
    for kind in phonenumbers.PhoneNumberType.values():
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            nsns.append(phonenumbers.national_significant_number(example))
    for length in range(1, 19):
        nsns += ["".join(rng.choice("0123456789") for _ in range(length)) for _ in range(60)]
    out = []
    for nsn in nsns:
        out += [nsn, "0" + nsn, "00" + nsn, cc + nsn, "+" + cc + nsn, "+" + nsn, cc + "0" + nsn]
        out += ["+" + cc + "0" + nsn, " " + "0" + nsn + "\t"]
    return out


def _parsed(text: str, region: str) -> str | None:
    """What phonenumbers itself says, the reference for the shortcut."""
    text = text.strip(" \t")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize("region", REGIONS)
def test_shortcut_answers_as_phonenumbers_parse(region: str) -> None:
    phones = PhoneNormaliser(region, cache_size=0)
    corpus = _corpus(region, random.Random(region))
    differ = [(t, phones.normalise(t), _parsed(t, region)) for t in corpus]
    differ = [d for d in differ if d[1] != d[2]]
    assert differ == []
    assert any(_parsed(t, region) for t in corpus)  # the corpus has valid numbers too


def test_the_shortcut_serves_the_common_ukrainian_shapes() -> None:
    phones = PhoneNormaliser("UA", cache_size=0)
    for written in ("0501234567", "380501234567", "+380501234567"):
        assert phones.normalise(written) == "+380501234567"
    assert phones.normalise("+38 (050) 123-45-67") == "+380501234567"  # the full parse
    assert phones.normalise("0501234567\n") is None
    assert phones.normalise("٠٥٠١٢٣٤٥٦٧") is None  # Arabic-Indic digits: not ours


def test_memo_is_bounded() -> None:
    phones = PhoneNormaliser("UA", cache_size=3)
    for i in range(10):
        phones.normalise(f"05012345{i:02d}")
        assert phones.memo_size <= 3
    assert phones.memo_size == 3


def test_memo_answers_as_the_unmemoised_path_and_per_settings() -> None:
    """A memoised answer is the one a fresh, memo-less normaliser gives, also for a
    number whose answer depends on the region (a second normaliser never shares it)."""
    ua = PhoneNormaliser("UA", cache_size=16)
    pl = PhoneNormaliser("PL", cache_size=16)
    numbers = ["0501234567", "501234567", "+48501234567", "0221234567", "unknown", "067"]
    for _ in range(2):  # the second round comes from the memo
        for number in numbers:
            assert ua.normalise(number) == PhoneNormaliser("UA", cache_size=0).normalise(number)
            assert pl.normalise(number) == PhoneNormaliser("PL", cache_size=0).normalise(number)
    assert ua.normalise("501234567") != pl.normalise("501234567")  # settings matter
