"""agi.escape: quote() and the command-line builder keep every value inside one word."""

from __future__ import annotations

import pytest

from agi.escape import format_command, quote, set_variable_line, variable_name
from agi.probe import parse_args

NASTY = [
    "",
    "plain",
    "Иван Петров",
    'capture "quoted" text',
    "back\\slash",
    "trailing backslash\\",
    '\\"',
    "tab\tinside",
    "  leading and trailing  ",
    'x"\nEXEC System rm\n',
    "a\rb\nc\0d",
    "${SHELL(rm -rf /)}",
    "failure",
]


def test_quote_matches_the_captured_verbose_command() -> None:
    line = format_command("VERBOSE", quote('capture "quoted" text'), "1")
    assert line == b'VERBOSE "capture \\"quoted\\" text" 1\n'


def test_quote_escapes_backslash_and_quote_and_blanks_line_breaks() -> None:
    assert quote('a\\b"c') == '"a\\\\b\\"c"'
    assert quote("a\rb\nc\0d") == '"a b c d"'
    assert quote("") == '""'


@pytest.mark.parametrize("value", NASTY)
def test_asterisk_reads_a_quoted_value_back_as_one_word(value: str) -> None:
    line = format_command("SET", "VARIABLE", "NAME", quote(value))
    assert line.count(b"\n") == 1
    assert line.endswith(b"\n")
    expected = value.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    assert parse_args(line.decode().removesuffix("\n")) == ["SET", "VARIABLE", "NAME", expected]


@pytest.mark.parametrize(
    "word",
    [
        "two words",
        'x"\nEXEC System rm',
        "new\nline",
        "back\\slash",
        'half"quoted',
        '"unterminated',
        '"a"b"',
        "",
        "nul\0",
        "tab\t",
        '"line\nbreak"',
    ],
)
def test_format_command_refuses_raw_values(word: str) -> None:
    with pytest.raises(ValueError, match="unsafe AGI word"):
        format_command("VERBOSE", word)


@pytest.mark.parametrize("first", ["verbose", "failure", "SET VARIABLE", "", "EXEC\n"])
def test_format_command_needs_an_upper_case_command_word(first: str) -> None:
    with pytest.raises(ValueError, match="command word"):
        format_command(first, "x")


def test_format_command_refuses_lines_asterisk_would_split() -> None:
    value = "x" * 2100
    with pytest.raises(ValueError, match="exceeds 2047"):
        format_command("SET", "VARIABLE", "NAME", quote(value))
    assert format_command("SET", "VARIABLE", "NAME", quote(value), max_bytes=8191)


def test_length_is_counted_in_bytes() -> None:
    value = "ж" * 1100  # 2200 bytes in UTF-8
    with pytest.raises(ValueError, match="exceeds"):
        format_command("VERBOSE", quote(value))


@pytest.mark.parametrize(
    "name", ["SUBSCRIBER_STATUS", "_X", "CALLERID(num)", "HASH(a,b)", "DB(fam/key)", "CDR()"]
)
def test_variable_names_accepted(name: str) -> None:
    assert variable_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "1ABC", "A B", "X)\nEXEC System rm", "${X}", 'A"', "A\\", "CALLERID(num", "A(b c)"],
)
def test_variable_names_refused(name: str) -> None:
    with pytest.raises(ValueError, match="channel variable name"):
        variable_name(name)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUBSCRIBER_STATUS", "1"),
        ("SUBSCRIBER_NAME", 'Іван "Петрович" \\ x'),
        ("CHANNEL(language)", "uk"),
        ("X", 'a"\r\nEXEC System rm -rf /\0'),
        ("EMPTY", ""),
    ],
)
def test_set_variable_line_is_what_format_command_writes(name: str, value: str) -> None:
    for _ in range(2):  # the second time from the kept prefix
        assert set_variable_line(name, value) == format_command(
            "SET", "VARIABLE", variable_name(name), quote(value)
        )


def test_set_variable_line_refuses_bad_names_and_long_lines() -> None:
    with pytest.raises(ValueError, match="channel variable name"):
        set_variable_line("X)\nEXEC System rm", "1")
    with pytest.raises(ValueError, match="exceeds 64"):
        set_variable_line("SUBSCRIBER_NAME", "я" * 30, max_bytes=64)
