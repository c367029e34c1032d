"""The call-file format, byte for byte: the seed's two formats and Asterisk's archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from callfile_spooler.callfile import SEED_ORDER, CallFile, parse, render
from callfile_spooler.dialing import Callee, Dialer, Target
from callfile_spooler.errors import CallFileValueError
from callfile_spooler.settings import SpoolSettings
from primitives.phones import PhoneNormaliser

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED = FIXTURES / "callfiles"
DONE = FIXTURES / "asterisk" / "outgoing_done"


def archived_part(name: str) -> tuple[bytes, bytes]:
    """(what was spooled, what Asterisk appended) of a captured archived file."""
    data = (DONE / name).read_bytes()
    head, sep, tail = data.partition(b"\nStartRetry:")
    assert sep
    return head, sep + tail


def test_seed_plain_format() -> None:
    call = CallFile(
        channel="local/89161111111@avtoobzvon",
        callerid="",
        max_retries=0,
        retry_time=60,
        wait_time=300,
        context="avtoobzvon",
        extension="play",
        priority=1,
        archive=False,
    )
    assert render(call, SEED_ORDER) == (SEED / "seed-plain.call").read_bytes()


def test_seed_ivr_format() -> None:
    call = CallFile(
        channel="local/89502222222@avtoobzvon-ivr",
        callerid="6122103",
        max_retries=0,
        retry_time=60,
        wait_time=300,
        context="avtoobzvon-ivr",
        extension="play",
        priority=1,
        variables=(("dtmf", "1"), ("CALLEE", "89502222222")),
        archive=False,
    )
    assert render(call, SEED_ORDER) == (SEED / "seed-ivr.call").read_bytes()


def test_captured_campaign_files_are_what_render_writes() -> None:
    ok, appended = archived_part("camp-ok.call")
    assert appended == b"\nStartRetry: 7884 1 (1795311466)\nStatus: Completed\n"
    assert (
        render(
            CallFile(
                channel="Local/s@campaign-test",
                callerid='"Campaign" <6122103>',
                retry_time=60,
                wait_time=30,
                context="campaign-test",
                extension="s",
                variables=(("CAMPAIGN_ID", "7"), ("CALLEE", "89502222222")),
            )
        )
        == ok
    )
    noans, appended = archived_part("camp-noans.call")
    assert appended.endswith(b"Status: Expired\n")
    assert (
        render(
            CallFile(
                channel="Local/s@noanswer-test",
                retry_time=60,
                wait_time=3,
                context="campaign-test",
                extension="s",
                variables=(("CAMPAIGN_ID", "7"), ("CALLEE", "89161111111")),
            )
        )
        == noans
    )


def test_captured_application_files() -> None:
    for name, data, status in (("agi1.call", "4", "Expired"), ("agi2.call", "9", "Completed")):
        spooled, appended = archived_part(name)
        call = CallFile(
            channel="Local/s@agi-test",
            application="Wait",
            data=data,
            priority=None,
            max_retries=None,
        )
        assert render(call) == spooled
        assert appended.endswith(f"Status: {status}\n".encode())


@pytest.mark.parametrize(
    ("name", "status", "variables"),
    [
        ("camp-ok.call", "Completed", {"CAMPAIGN_ID": "7", "CALLEE": "89502222222"}),
        ("camp-noans.call", "Expired", {"CAMPAIGN_ID": "7", "CALLEE": "89161111111"}),
        ("agi1.call", "Expired", {}),
    ],
)
def test_parse_archived(name: str, status: str, variables: dict[str, str]) -> None:
    archived = parse((DONE / name).read_bytes())
    assert archived.status == status
    assert archived.variables == variables
    assert archived.start_retries == 1
    assert archived.started


def test_parse_follows_asterisk_comments_and_trimming() -> None:
    archived = parse(
        b"Channel: Local/1@x ; a comment\n# whole line\nSetvar: A=1#2\nSetvar: B=x \\; y\n"
        b"Setvar: C=v #tail\n"
    )
    assert archived.headers[0] == ("Channel", "Local/1@x")
    assert archived.variables == {"A": "1#2", "B": "x ; y", "C": "v"}
    assert archived.status is None
    assert not archived.started


def test_campaign_call_file_in_the_trunks_format() -> None:
    settings = SpoolSettings(
        dial_format="8{national_significant}",
        channel="PJSIP/{number}@trunk",
        callerid='"ISP" <0441234567>',
        wait_time=30,
    )
    dialer = Dialer(settings, PhoneNormaliser("UA"))
    call = dialer.call_file(
        Target(7, "pbxbridge-campaign", "s", None),
        Callee(42, "+380501234567", "1", (("GREETING", "Добрий день"),)),
    )
    assert (
        render(call)
        == (
            "Channel: PJSIP/8501234567@trunk\n"
            'CallerID: "ISP" <0441234567>\n'
            "MaxRetries: 0\n"
            "WaitTime: 30\n"
            "Context: pbxbridge-campaign\n"
            "Extension: 1\n"
            "Priority: 1\n"
            "Setvar: CAMPAIGN_ID=7\n"
            "Setvar: CAMPAIGN_ATTEMPT_ID=42\n"
            "Setvar: CAMPAIGN_NUMBER=+380501234567\n"
            "Setvar: CAMPAIGN_EXTENSION=1\n"
            "Setvar: GREETING=Добрий день\n"
            "Archive: yes\n"
        ).encode()
    )


@pytest.mark.parametrize(
    ("dial_format", "number", "dialled"),
    [
        ("{national}", "+380501234567", "0501234567"),
        ("8{national_significant}", "+380501234567", "8501234567"),
        ("+{e164}", "+380501234567", "+380501234567"),
        ("00{e164}", "+48221234567", "0048221234567"),
        ("{country_code}-{national_significant}", "+380501234567", None),
        ("{national}", "+48221234567", "+48221234567"),  # another country: international_format
        # "8{national_significant}" would make +48221234567 the Ukrainian 8221234567
        ("8{national_significant}", "+48221234567", "+48221234567"),
    ],
)
def test_dial_formats(dial_format: str, number: str, dialled: str | None) -> None:
    if dialled is None:
        with pytest.raises(ValueError, match="dial string"):
            SpoolSettings(dial_format=dial_format)
        return
    dialer = Dialer(SpoolSettings(dial_format=dial_format), PhoneNormaliser("UA"))
    assert dialer.dial_string(number) == dialled
    assert dialer.channel(number) == f"Local/{dialled}@pbxbridge-dial"


def test_numbers_of_other_countries_go_by_international_format() -> None:
    phones = PhoneNormaliser("UA")
    trunk = SpoolSettings(dial_format="8{national_significant}", international_format="810{e164}")
    assert Dialer(trunk, phones).dial_string("+48221234567") == "81048221234567"
    assert Dialer(trunk, phones).dial_string("+380501234567") == "8501234567"
    home_only = SpoolSettings(dial_format="0{national_significant}", international_format="")
    with pytest.raises(CallFileValueError, match="not a UA number"):
        Dialer(home_only, phones).dial_string("+48601234567")
    with pytest.raises(ValueError, match="placeholders"):
        SpoolSettings(international_format="00{nope}")
