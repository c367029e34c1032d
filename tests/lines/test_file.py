"""The PJSIP include file: its values held to what Asterisk reads as one value, written so
that a reader never sees half of it, by one writer at a time."""

from __future__ import annotations

import asyncio
import stat
import threading
from pathlib import Path

import pytest

from lines import files
from lines.errors import BadValue, LinesUnavailable
from lines.pjsip import LineConfig, ini_value, render
from lines.settings import LinesSettings
from lines.values import CallerId, check_params, password, usable_password
from pbxbridge.cli.lines import parse_arguments


@pytest.mark.parametrize(
    "value",
    ["a\nb", "a\rb", "a;b", "[x]", "a]", "a\\;", "a\x00", " lead", "trail ", "tab\t"],
)
def test_ini_value_refuses_what_would_not_stay_one_value(value: str) -> None:
    with pytest.raises(BadValue):
        ini_value(value)


def test_ini_value_keeps_what_is_safe() -> None:
    for value in ('"Іван Петренко" <+380501110001>', "ulaw,alaw", "PBXBRIDGE_LINE=line1"):
        assert ini_value(value) == value


@pytest.mark.parametrize(
    ("text", "number", "name"),
    [
        ("380501110001", "380501110001", ""),
        ("+380501110001", "+380501110001", ""),
        ("<380501110001>", "380501110001", ""),
        ("Ivan <380501110001>", "380501110001", "Ivan"),
        ('"Іван П." <+380501110001>', "+380501110001", "Іван П."),
        ('  "Office-2"   <100>  ', "100", "Office-2"),
    ],
)
def test_callerid_forms(text: str, number: str, name: str) -> None:
    assert CallerId.parse(text) == CallerId(number, name)


@pytest.mark.parametrize(
    "text",
    ['"Ivan" <38050;1>', "Ivan <380501110001", "Ivan", '"Iv"an" <1>', "<>", "a <1> b",
     "Ivan\n <1>", '"' + "x" * 65 + '" <1>', "1" * 33],
)  # fmt: skip
def test_callerid_refusals(text: str) -> None:
    with pytest.raises(BadValue):
        CallerId.parse(text)


def test_params_take_three_and_name_the_rest() -> None:
    params, warnings = check_params(
        {"callerid": "", "max_channels": "4", "codecs": "alaw ulaw,alaw", "ram": "1", "a\nb": ""}
    )
    assert (params.callerid, params.clear_callerid) == (None, True)
    assert (params.max_channels, params.codecs) == (4, ("alaw", "ulaw"))
    assert warnings == [
        "parameter --ram ignored (a line takes callerid, max_channels, codecs)",
        "parameter --'a\\nb' ignored (a line takes callerid, max_channels, codecs)",
    ]


def test_generated_passwords_are_usable_and_differ() -> None:
    made = {password() for _ in range(50)}
    assert len(made) == 50
    assert all(usable_password(p) and len(p) == 24 for p in made)
    assert not usable_password("short")
    assert not usable_password("has space inside")
    assert not usable_password("semi;colon-x")


def test_arguments_keep_values_as_given() -> None:
    parsed = parse_arguments(
        ["--user=ivan", "--password=a=b=c", "--id=", "--callerid=Ivan P <1>", "--x=$(touch y)"]
    )
    assert (parsed.user, parsed.password, parsed.id) == ("ivan", "a=b=c", "")
    assert parsed.params == {"callerid": "Ivan P <1>", "x": "$(touch y)"}
    assert parsed.warnings == []
    assert "a=b=c" not in repr(parsed)


def test_the_file_holds_each_line_as_endpoint_auth_and_aor(tmp_path: Path) -> None:
    settings = LinesSettings(
        pjsip_file=tmp_path / "pjsip_pbxbridge.conf",
        transport="transport-udp",
        endpoint_template="pbxbridge-endpoint",
    )
    line = LineConfig("line7", "Secret-123", '"Ivan" <1>', 2, ("ulaw",), blocked=True)
    text = render([line], settings)
    blocks = [b.splitlines() for b in text.split("\n\n")[1:] if b.strip()]
    assert blocks == [
        ["[line7](pbxbridge-endpoint)", "type = endpoint", "context = pbxbridge-line-suspended",
         "disallow = all", "allow = ulaw", "auth = line7", "aors = line7",
         "device_state_busy_at = 2", "set_var = PBXBRIDGE_LINE=line7",
         'callerid = "Ivan" <1>', "transport = transport-udp"],
        ["[line7]", "type = auth", "auth_type = userpass", "username = line7",
         "password = Secret-123"],
        ["[line7]", "type = aor", "max_contacts = 1", "remove_existing = yes"],
    ]  # fmt: skip
    assert text.startswith("; Written by pbxbridge")
    assert '#include "pjsip_pbxbridge.conf"' in text


def test_a_value_that_slipped_through_is_still_refused(tmp_path: Path) -> None:
    settings = LinesSettings(pjsip_file=tmp_path / "p.conf")
    line = LineConfig("line7", "x\n[evil]", "", 2, ("ulaw",), blocked=False)
    with pytest.raises(BadValue):
        render([line], settings)


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    """Two large versions written in turn while a reader reads all along: every read is
    one whole version (the rename), never a mix or a truncated file."""
    path = tmp_path / "pjsip_pbxbridge.conf"
    versions = [("; A\n" + "a" * 200_000).encode(), ("; B\n" + "b" * 300_000).encode()]
    files.write_atomic(path, versions[0])
    done = threading.Event()
    seen: list[bytes] = []

    def reader() -> None:
        while not done.is_set():
            seen.append(path.read_bytes())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(60):
            files.write_atomic(path, versions[i % 2])
    finally:
        done.set()
        thread.join()
    assert seen
    assert all(data in versions for data in seen)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_new_file_is_0640_and_a_replaced_one_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "pjsip_pbxbridge.conf"
    files.write_atomic(path, b"one")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    path.chmod(0o600)
    files.write_atomic(path, b"two")
    assert (stat.S_IMODE(path.stat().st_mode), path.read_bytes()) == (0o600, b"two")
    files.restore(path, None)
    assert not path.exists()


async def test_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "pjsip_pbxbridge.conf"
    first = files.ExclusiveLock(path, timeout=5)
    second = files.ExclusiveLock(path, timeout=0.2)
    order: list[str] = []
    async with first.held():
        with pytest.raises(LinesUnavailable, match="another line change held"):
            async with second.held():
                order.append("second while first")  # pragma: no cover - must not run
        waiting = asyncio.create_task(_hold(files.ExclusiveLock(path, timeout=5), order))
        await asyncio.sleep(0.1)
        order.append("first")
    await waiting
    assert order == ["first", "waiter"]


async def _hold(lock: files.ExclusiveLock, order: list[str]) -> None:
    async with lock.held():
        order.append("waiter")
