"""agi.request: the environment block and routing on agi_network_script (no network)."""

from __future__ import annotations

import pytest

from agi import AgiHeaderError
from agi.request import build_request, parse_environment, parse_header_line, split_script
from tests.fakes.agi_asterisk import load_captured_sessions


@pytest.mark.parametrize(
    ("script", "route", "query"),
    [
        ("askozianum?mode=test&x=1", "askozianum", {"mode": "test", "x": "1"}),
        ("askozianum", "askozianum", {}),
        ("/billing/balance/?acct=1&acct=2", "billing/balance", {"acct": "2"}),
        ("userstatus?empty=&flag", "userstatus", {"empty": "", "flag": ""}),
        ("x?q=%D0%B0+b", "x", {"q": "а b"}),
        ("billing:balance", "billing:balance", {}),
        ("//host/path", "host/path", {}),
        ("", "", {}),
    ],
)
def test_split_script(script: str, route: str, query: dict[str, str]) -> None:
    assert split_script(script) == (route, query)


def test_captured_environment() -> None:
    block = load_captured_sessions()[0].environment.decode()
    env = parse_environment(block.splitlines()[:-1])
    request = build_request(env, "127.0.0.1", 40000)
    assert request.script == "askozianum"
    assert request.query == {"mode": "test", "x": "1"}
    assert request.args == ["arg one", "арг2"]
    assert request.network_script == "askozianum?mode=test&x=1"
    assert request.uniqueid == "1795311406.5"
    assert request.channel == "Local/s@agi-test-00000002;2"
    assert request.callerid == "0501234567"
    assert request.calleridname == "Алексей Тест"
    assert (request.context, request.extension, request.language) == ("agi-test", "s", "en")
    assert request.env["agi_accountcode"] == ""
    assert request.env["agi_dnid"] == "unknown"
    assert (request.peer_host, request.peer_port) == ("127.0.0.1", 40000)


def test_arguments_in_numeric_order_and_unknown_callerid_is_empty() -> None:
    env = {f"agi_arg_{n}": f"a{n}" for n in (10, 2, 1, 3, 4, 5, 6, 7, 8, 9)}
    env |= {"agi_callerid": "unknown", "agi_calleridname": "unknown"}
    request = build_request(env, "::1", 1)
    assert request.args == [f"a{n}" for n in range(1, 11)]
    assert (request.callerid, request.calleridname) == ("", "")
    assert request.env["agi_callerid"] == "unknown"
    assert request.script == ""


@pytest.mark.parametrize(
    "line", ["no colon here", "Host: example.org", ": value", "agi network: yes", "AGI"]
)
def test_malformed_lines(line: str) -> None:
    with pytest.raises(AgiHeaderError, match="malformed"):
        parse_environment(["agi_network: yes", line])


def test_empty_environment() -> None:
    with pytest.raises(AgiHeaderError, match="empty"):
        parse_environment([])


def test_a_known_header_name_is_still_checked_for_its_separator() -> None:
    assert parse_header_line("agi_callerid: 0501234567") == ("agi_callerid", "0501234567")
    assert parse_header_line("agi_callerid: 0501234567") == ("agi_callerid", "0501234567")
    with pytest.raises(AgiHeaderError):
        parse_header_line("agi_callerid 0501234567")
    with pytest.raises(AgiHeaderError):
        parse_header_line("agi_callerid\n: x")
