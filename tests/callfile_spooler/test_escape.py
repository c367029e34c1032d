"""Every value put into a call file is checked in one place; nothing unsafe is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from callfile_spooler import escape
from callfile_spooler.callfile import CallFile, parse, render
from callfile_spooler.dialing import Callee, Dialer, Target
from callfile_spooler.errors import CallFileValueError
from callfile_spooler.settings import SpoolSettings
from callfile_spooler.writer import SpoolFolder, file_name
from primitives.phones import PhoneNormaliser

INJECTION = "1\nApplication: System\nData: rm -rf /"


def base(**changes: object) -> CallFile:
    fields: dict[str, object] = {
        "channel": "PJSIP/0501234567@trunk",
        "context": "c",
        "extension": "s",
    }
    fields.update(changes)
    return CallFile(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"variables": (("CALLEE", INJECTION),)},
        {"variables": (("CALLEE", "1\rApplication: System"),)},
        {"variables": (("CALLEE", "a\x00b"),)},
        {"variables": (("CALLEE", "a\u2028Application: System"),)},
        {"variables": (("X\nApplication", "System"),)},
        {"variables": (("A=B", "1"),)},
        {"channel": "PJSIP/0501234567@trunk\nApplication: System"},
        {"channel": "PJSIP/050 1234567@trunk"},
        {"context": "c\nApplication: System"},
        {"extension": "s\nApplication: System"},
        {"callerid": '"Evil\nApplication: System" <1>'},
        {"callerid": '"Evil" <1>\nApplication: System'},
        {
            "data": "x\nApplication: System",
            "application": "Wait",
            "context": None,
            "extension": None,
        },
    ],
)
def test_newline_injection_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(CallFileValueError):
        render(base(**changes))


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("a;b", "';'"),
        ("a #b", "'#' after a blank"),
        (" a", "blanks"),
        ("a ", "blanks"),
        ("a\\b", "cannot be written"),
        ('a"b', "'\"'"),
        ("\t", "control"),
    ],
)
def test_values_asterisk_would_read_back_differently(value: str, why: str) -> None:
    with pytest.raises(CallFileValueError, match=why):
        escape.variable_value(value)


def test_what_is_allowed_reads_back_exactly() -> None:
    values = {
        "NAME": "Олена Петрівна",
        "ORDER": "#42",
        "CODE": "1#",
        "TEXT": "Баланс: 12.50 грн, до 25.11",
    }
    call = base(callerid='"Абонент Ivan" <0441234567>', variables=tuple(values.items()))
    archived = parse(render(call))
    assert archived.variables == values
    assert ("CallerID", '"Абонент Ivan" <0441234567>') in archived.headers


def test_line_length_is_bounded() -> None:
    with pytest.raises(CallFileValueError, match="longer than 255"):
        render(base(variables=(("LONG", "x" * 250),)))
    render(base(variables=(("LONG", "x" * 200),)))


def test_extension_starting_a_comment() -> None:
    with pytest.raises(CallFileValueError, match="not _ or # first"):
        render(base(extension="#1"))
    with pytest.raises(CallFileValueError, match="comment"):
        escape.line("Extension", "#1")


@pytest.mark.parametrize(
    "callerid",
    ["", "0441234567", '"ISP" <0441234567>', "ISP <0441234567>", "<0441234567>", '"" <1>'],
)
def test_callerid_forms(callerid: str) -> None:
    assert escape.callerid(callerid) == callerid


@pytest.mark.parametrize("callerid", ["ISP", '"A" <1> x', '"A<" <1>', "<12a>", '"a;b" <1>'])
def test_bad_callerids(callerid: str) -> None:
    with pytest.raises(CallFileValueError):
        escape.callerid(callerid)


def test_settings_refuse_unsafe_templates() -> None:
    with pytest.raises(ValueError, match="channel"):
        SpoolSettings(channel="PJSIP/{number}@trunk\nApplication: System")
    with pytest.raises(ValueError, match="must contain"):
        SpoolSettings(channel="PJSIP/trunk")
    with pytest.raises(ValueError, match="placeholders"):
        SpoolSettings(dial_format="{number}")
    with pytest.raises(ValueError, match="CallerID"):
        SpoolSettings(callerid="ISP\nApplication: System")


def test_dialer_refuses_an_injected_variable() -> None:
    dialer = Dialer(SpoolSettings(), PhoneNormaliser())
    call = dialer.call_file(
        Target(1, "pbxbridge-campaign", "s", None),
        Callee(1, "+380501234567", None, (("CALLEE", INJECTION),)),
    )
    with pytest.raises(CallFileValueError, match="variable value"):
        render(call)


def test_refused_file_is_never_written(tmp_path: Path) -> None:
    (tmp_path / "outgoing").mkdir()
    settings = SpoolSettings(dir=tmp_path, fsync=False)
    folder = SpoolFolder(settings)
    folder.prepare()
    good, bad = file_name(1, 1), file_name(1, 2)
    result = folder.write([(good, base()), (bad, base(variables=(("CALLEE", INJECTION),)))])
    assert result.written == [good]
    assert "variable value" in result.refused[bad]
    assert sorted(p.name for p in settings.tmp_dir.iterdir()) == [good]
    with pytest.raises(CallFileValueError):
        folder.spool(file_name(1, 3), base(callerid="x\nApplication: System"))
    assert not list(settings.outgoing_dir.iterdir())
