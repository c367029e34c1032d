"""`pbxbridge line …` as BILLmanager's ShellScripts run it: in-process through click, a real
database (SQLite and PostgreSQL), real files and the fake AMI Asterisk reloading res_pjsip
(it reads the PJSIP file at each accepted reload, as Asterisk does)."""

from __future__ import annotations

import logging

import pytest

from tests.lines.conftest import LineRig, write_config

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def sections(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("[")]


def warnings(stderr: str) -> list[str]:
    """The protocol's warning lines (stderr also carries the log)."""
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


async def test_a_line_from_open_to_close(rig: LineRig) -> None:
    name, password, opened = await rig.open(
        "--user=ivan",
        "--password=Str0ng.pass-1",
        "--callerid=Ivan Petrenko <380501110001>",
        "--max_channels=3",
        "--codecs=g722, ULAW",
        "--ram=512",
        "--disk_quota=10",
    )
    assert (name, password) == ("line1", "Str0ng.pass-1")
    assert warnings(opened.stderr) == [
        "warning: parameter --ram ignored (a line takes callerid, max_channels, codecs)",
        "warning: parameter --disk_quota ignored (a line takes callerid, max_channels, codecs)",
    ]
    text = rig.text()
    assert sections(text) == ["[line1]", "[line1]", "[line1]"]
    for setting in (
        "type = endpoint",
        "context = pbxbridge-line",
        "disallow = all",
        "allow = g722,ulaw",
        'callerid = "Ivan Petrenko" <380501110001>',
        "device_state_busy_at = 3",
        "set_var = PBXBRIDGE_LINE=line1",
        "type = auth",
        "username = line1",
        "password = Str0ng.pass-1",
        "type = aor",
    ):
        assert setting in text.splitlines(), setting
    # Asterisk was asked to reload, and read exactly this file
    [reload] = rig.ami.actions_named("ModuleLoad")
    assert (reload.get("LoadType"), reload.get("Module")) == ("reload", "res_pjsip.so")
    assert rig.ami.pjsip_loads == [text]

    suspended = await rig.line("suspend", "--id=line1", "--user=line1")
    assert (suspended.exit_code, suspended.stdout) == (0, "OK\n")
    assert "context = pbxbridge-line-suspended" in rig.text()
    again = await rig.line("suspend", "--id=line1")  # BILLmanager retrying: still OK
    assert (again.exit_code, again.stdout) == (0, "OK\n")
    assert len(rig.ami.pjsip_loads) == 2  # nothing changed, nothing reloaded

    resumed = await rig.line("resume", "--id=line1", "--user=line1")
    assert resumed.stdout == "OK\n"
    assert "context = pbxbridge-line\n" in rig.text()

    changed = await rig.line(
        "setparam", "--id=line1", "--max_channels=5", "--callerid=", "--codecs=opus", "--ram=1"
    )
    assert (changed.exit_code, changed.stdout) == (0, "OK\n")
    assert "warning: parameter --ram ignored" in changed.stderr
    text = rig.text()
    assert "device_state_busy_at = 5" in text
    assert "allow = opus" in text
    assert "callerid" not in text

    listed = await rig.run("line", "list")
    assert "line1" in listed.stdout
    assert "Str0ng.pass-1" not in listed.stdout + listed.stderr

    closed = await rig.line("close", "--id=line1", "--user=line1")
    assert (closed.exit_code, closed.stdout) == (0, "OK\n")
    assert sections(rig.text()) == []
    assert rig.ami.pjsip_loads[-1] == rig.text()
    closed_again = await rig.line("close", "--id=line1")
    assert (closed_again.exit_code, closed_again.stdout) == (0, "OK\n")
    assert "already closed" in closed_again.stderr
    gone = await rig.line("resume", "--id=line1")
    assert (gone.exit_code, gone.stdout) == (1, "ERROR: no open line line1\n")

    # a closed line's name is never given again
    name, _, _ = await rig.open("--user=ivan")
    assert name == "line2"
    everything = await rig.run("line", "list", "--all")
    assert "closed" in everything.stdout


@sqlite_only
async def test_generated_passwords_are_never_logged(
    rig: LineRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, generated, opened = await rig.open("--user=ivan")
    _, replaced, unsafe = await rig.open("--user=olena", "--password=ab;c\n[x]")
    assert len(generated) >= 24
    assert replaced != "ab;c\n[x]"
    assert "a new one was generated" in unsafe.stderr
    text = rig.text()
    assert f"password = {generated}" in text
    assert f"password = {replaced}" in text
    assert "ab;c" not in text
    listed = await rig.run("line", "list", "--all")
    for secret in (generated, replaced, "ab;c"):
        assert secret not in opened.stderr + unsafe.stderr + listed.output
        assert all(secret not in r.getMessage() for r in caplog.records)
    assert generated in opened.stdout  # the OK line is the one place it is said


@sqlite_only
@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--callerid=Ivan\n[evil]\ntype=endpoint <380501110001>",), "callerid"),
        (("--callerid=380501110001;bad",), "callerid"),
        (('--callerid="Ivan"; <380501110001>',), "callerid"),
        (("--callerid=Ivan <380501110001>\n[x]",), "callerid"),
        (("--codecs=ulaw\n[evil]",), "codecs"),
        (("--codecs=ulaw;alaw",), "codecs"),
        (("--codecs=",), "codecs"),
        (("--max_channels=2\n",), "max_channels"),
        (("--max_channels=0",), "max_channels"),
        (("--max_channels=1000",), "max_channels"),
        (("--max_channels=²",), "max_channels"),
        (("--user=ivan\n[evil]",), "user"),
        (("--user=iv an",), "user"),
    ],
)
async def test_values_that_would_break_the_file_are_refused(
    rig: LineRig, args: tuple[str, ...], reason: str
) -> None:
    await rig.open("--user=first")
    before = rig.text()
    result = await rig.line("open", *args)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"ERROR: {reason}")
    assert result.stdout.count("\n") == 1  # one line, whatever the value held
    assert rig.text() == before
    assert len(rig.ami.pjsip_loads) == 1  # no reload for a refused change
    listed = await rig.run("line", "list")
    assert "line2" not in listed.stdout


@sqlite_only
@pytest.mark.parametrize(
    ("args", "answer"),
    [
        ((), "ERROR: --id=<line> is required (the id open answered)\n"),
        (("--id=",), "ERROR: --id=<line> is required (the id open answered)\n"),
        (("--id=line9",), "ERROR: no open line line9\n"),
        (("--id=../../etc/passwd",), "ERROR: id '../../etc/passwd': a line id is 1-40 "
         "lowercase letters and digits\n"),
        (("--id=line1]\n[x",), "ERROR: id 'line1]\\n[x': a line id is 1-40 lowercase "
         "letters and digits\n"),
    ],
)  # fmt: skip
async def test_commands_by_id_refuse_what_names_no_line(
    rig: LineRig, args: tuple[str, ...], answer: str
) -> None:
    await rig.open("--user=first")
    for command in ("suspend", "resume", "close", "setparam"):
        result = await rig.line(command, *args)
        assert (result.exit_code, result.stdout) == (1, answer), command


@sqlite_only
async def test_arguments_that_are_not_name_value_are_ignored(rig: LineRig) -> None:
    result = await rig.line("open", "--user=ivan", "stray", "--flag", "-x=1", "--user=olena")
    assert result.exit_code == 0
    assert result.stdout.startswith("OK --id=line1 ")
    assert "argument 'stray' ignored" in result.stderr
    assert "argument '--flag' ignored" in result.stderr
    assert "--user given twice: the last one counts" in result.stderr
    listed = await rig.run("line", "list")
    assert "olena" in listed.stdout


async def test_a_reload_asterisk_refuses_puts_the_file_back(rig: LineRig) -> None:
    await rig.open("--user=ivan", "--max_channels=2")
    before = rig.text()
    rig.ami.reload_error = "An unknown error occurred"
    changed = await rig.line("setparam", "--id=line1", "--max_channels=9")
    opened = await rig.line("open", "--user=olena")
    assert changed.exit_code == 1
    assert changed.stdout.startswith(
        "ERROR: Asterisk refused `module reload res_pjsip.so` (An unknown error occurred); "
    )
    assert changed.stdout.rstrip().endswith("is back as it was and nothing changed")
    assert opened.exit_code == 1
    assert rig.text() == before
    assert not list(rig.pjsip.parent.glob(".*.tmp"))
    rig.ami.reload_error = None
    listed = await rig.run("line", "list")
    assert "olena" not in listed.stdout
    row = listed.stdout.splitlines()[2].split()
    assert (row[0], row[5]) == ("line1", "2")  # max_channels still 2
    # the next change works from the database, which never took the refused ones
    name, _, _ = await rig.open("--user=olena")
    assert name == "line2"


@sqlite_only
async def test_the_first_line_refused_leaves_no_file(rig: LineRig) -> None:
    rig.ami.reload_error = "A reload is in progress"
    result = await rig.line("open", "--user=ivan")
    assert result.exit_code == 1
    assert not rig.pjsip.exists()


async def test_while_ami_is_down_the_file_is_written_and_the_reload_waits(
    rig: LineRig,
) -> None:
    await rig.ami.stop()  # nothing listens on the port
    name, _, opened = await rig.open("--user=ivan")
    assert opened.exit_code == 0
    assert "warning: pjsip_pbxbridge.conf written, reload pending (cannot connect" in (
        opened.stderr
    )
    assert f"[{name}]" in rig.text()
    listed = await rig.run("line", "list")
    assert "Reload pending since 2026-11-22 12:00:00 EET: cannot connect" in listed.stdout
    suspended = await rig.line("suspend", f"--id={name}")
    assert suspended.exit_code == 0
    assert "context = pbxbridge-line-suspended" in rig.text()

    await rig.ami.start()  # Asterisk is back: the next change's reload clears it
    resumed = await rig.line("resume", f"--id={name}")
    assert (resumed.exit_code, warnings(resumed.stderr)) == (0, [])
    assert rig.ami.pjsip_loads == [rig.text()]
    listed = await rig.run("line", "list")
    assert "pending" not in listed.stdout


@sqlite_only
async def test_a_reload_never_answered_is_left_pending(rig: LineRig) -> None:
    rig.ami.on_action("ModuleLoad", None)
    write_config(rig.config, rig.database, rig.ami.port, rig.pjsip)
    result = await rig.line("open", "--user=ivan")
    assert result.exit_code == 0
    assert "no answer to the reload within 2 s (it may have run" in result.stderr


@sqlite_only
async def test_with_ami_off_the_reload_is_left_to_the_operator(rig: LineRig) -> None:
    write_config(rig.config, rig.database, rig.ami.port, rig.pjsip, ami=False)
    result = await rig.line("open", "--user=ivan")
    assert result.exit_code == 0
    assert "AMI is off ([ami] enabled = false)" in result.stderr
    assert rig.ami.connections == 0


@sqlite_only
async def test_a_file_pbxbridge_cannot_write_fails_the_command(rig: LineRig) -> None:
    rig.pjsip.parent.write_text("a file where the folder should be", encoding="utf-8")
    result = await rig.line("open", "--user=ivan")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"ERROR: cannot write {rig.pjsip.parent}/")
    assert "pbxbridge's user needs write access to the file and its folder" in result.stdout
    listed = await rig.run("line", "list")
    assert "No open lines." in listed.stdout


@sqlite_only
async def test_an_unmigrated_database_is_one_error_line(rig: LineRig) -> None:
    rig.config.write_text(
        rig.config.read_text("utf-8").replace(rig.database.url, "sqlite+aiosqlite:///empty.db"),
        encoding="utf-8",
    )
    result = await rig.line("open", "--user=ivan")
    assert result.exit_code == 1
    assert result.stdout.startswith("ERROR: the database ")
    assert "pbxbridge db upgrade" in result.stdout
    assert result.stdout.count("\n") == 1
