"""The shipped Asterisk config is well formed and uses only what Asterisk and pbxbridge have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agi.routes.common import AND_PROMPT, MINUS_PROMPT
from agi.settings import AgiSettings
from pbxbridge.app import AGI_ROUTES

ROOT = Path(__file__).resolve().parents[2]
DIALPLAN = ROOT / "dialplan" / "extensions_pbxbridge.conf"
MANAGER = ROOT / "dialplan" / "manager_pbxbridge.conf"
SHIPPED_SOUNDS = ROOT / "dialplan" / "sounds" / "en"
LISTS = ROOT / "tests" / "fixtures" / "asterisk-lists"

CONTEXT = re.compile(r"\[(?P<name>[A-Za-z0-9_-]+)\]")
EXTEN = re.compile(
    r"exten\s*=>\s*(?P<exten>_?[A-Za-z0-9_.!+\[\]-]+),(?P<prio>\d+|n|hint)(?:\((?P<label>\w+)\))?,"
    r"(?P<app>\w+)\((?P<args>.*)\)"
)
SAME = re.compile(
    r"same\s*=>\s*(?P<prio>n|\d+)(?:\((?P<label>\w+)\))?,(?P<app>\w+)\((?P<args>.*)\)"
)
FUNCTION = re.compile(r"\$\{(?P<name>[A-Z_]+)\(")
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
AGI_URL = re.compile(r"^agi://[^/]+/(?P<route>[A-Za-z0-9_/]+)(?:\?[A-Za-z0-9_=&.]*)?$")


def names(file: str) -> set[str]:
    lines = (LISTS / file).read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


APPLICATIONS = {a.lower() for a in names("applications.txt")}
FUNCTIONS = {f.upper() for f in names("functions.txt")}
CORE_SOUNDS = names("core-sounds-en.txt")


def sound_exists(name: str) -> bool:
    return name in CORE_SOUNDS or (SHIPPED_SOUNDS / f"{name}.wav").is_file()


def split_args(args: str) -> list[str]:
    """Top-level comma split (commas inside ${…} and $[…] stay)."""
    out, depth, current = [], 0, ""
    for char in args:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += char
    out.append(current)
    return out


def parse() -> list[tuple[int, str, str, str | None, str, str]]:
    """(line number, context, exten, label, app, args) for every dialplan line."""
    rows: list[tuple[int, str, str, str | None, str, str]] = []
    context = exten = ""
    for number, raw in enumerate(DIALPLAN.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if m := CONTEXT.fullmatch(line):
            context = m["name"]
            continue
        if m := EXTEN.fullmatch(line):
            exten = m["exten"]
        elif (m := SAME.fullmatch(line)) is None:
            pytest.fail(f"line {number} is not a well-formed context/exten/same line: {raw!r}")
        assert context, f"line {number}: outside any context"
        assert exten, f"line {number}: `same` before any `exten`"
        assert m["args"].count("(") == m["args"].count(")"), f"line {number}: unbalanced ()"
        rows.append((number, context, exten, m["label"], m["app"], m["args"]))
    return rows


ROWS = parse()


def test_every_application_is_one_asterisk_has() -> None:
    unknown = [(n, app) for n, _, _, _, app, _ in ROWS if app.lower() not in APPLICATIONS]
    assert unknown == []


def test_every_function_is_one_asterisk_has() -> None:
    used = {m["name"] for *_, args in ROWS for m in FUNCTION.finditer(args)}
    assert used
    assert used - FUNCTIONS == set()


def test_every_agi_call_names_a_pbxbridge_route() -> None:
    calls = [(n, args) for n, _, _, _, app, args in ROWS if app == "AGI"]
    assert calls
    for number, args in calls:
        match = AGI_URL.fullmatch(split_args(args)[0])
        assert match, f"line {number}: not an agi:// URL: {args}"
        assert match["route"] in AGI_ROUTES, f"line {number}: no route {match['route']!r}"
    used = {AGI_URL.fullmatch(split_args(a)[0])["route"] for _, a in calls}  # type: ignore[index]
    assert {"askozianum", "userstatus", "setcredit", "paycardpay"} <= used
    assert {"pause", "unpause", "swstatus"} <= used


def test_every_prompt_exists() -> None:
    played = [
        (n, sound)
        for n, _, _, _, app, args in ROWS
        if app in ("Playback", "Background")
        for sound in split_args(args)[0].split("&")
        if not VARIABLE.fullmatch(sound)  # a campaign's message: see the call-file tests
    ]
    assert played
    missing = [(n, s) for n, s in played if not sound_exists(s)]
    assert missing == []
    defaults = AgiSettings()
    route_prompts = [
        defaults.pin_prompt,
        defaults.paycard_prompt,
        defaults.balance_prompt,
        MINUS_PROMPT,
        AND_PROMPT,
    ]
    assert [s for s in route_prompts if not sound_exists(s)] == []


def test_every_goto_lands_on_a_line_that_exists() -> None:
    targets = {(c, e, "1") for _, c, e, _, _, _ in ROWS}
    labels = {(c, e, label) for _, c, e, label, _, _ in ROWS if label}
    patterns = {c for _, c, e, _, _, _ in ROWS if e.startswith("_")}
    # Counted from the raw text, apart from the parser: each Goto line has a destination.
    text = "\n".join(raw.split(";", 1)[0] for raw in DIALPLAN.read_text("utf-8").splitlines())
    goto_lines = len(re.findall(r"\bGoto(?:If)?\(", text))
    assert goto_lines >= 20, "the dialplan lost its Goto lines, or this count is wrong"
    lines_with_a_destination = 0
    for number, context, exten, _, app, args in ROWS:
        if app not in ("Goto", "GotoIf"):
            continue
        destinations = (
            [args]
            if app == "Goto"
            else [d for d in re.split(r"[?:]", args.rsplit("]", 1)[-1])[1:] if d]
        )
        assert destinations, f"line {number}: {app}({args}) read as going nowhere"
        lines_with_a_destination += 1
        for dest in destinations:
            parts = dest.split(",")
            if len(parts) == 1:
                key = (context, exten, parts[0])
            elif len(parts) == 2:
                key = (context, parts[0], parts[1])
            else:
                key = (parts[0], parts[1], parts[2])
            if "${" in key[1]:  # a dialled number: the context must take patterns
                assert key[0] in patterns, f"line {number}: {app} to {dest!r} goes nowhere"
            else:
                assert key in targets | labels, f"line {number}: {app} to {dest!r} goes nowhere"
    assert lines_with_a_destination == goto_lines


def test_inbound_calls_are_marked_for_telepony() -> None:
    inbound = [args for _, c, _, _, app, args in ROWS if c == "pbxbridge-inbound" and app == "Set"]
    assert "CDR(userfield)=in" in inbound


def test_manager_user_has_least_privilege() -> None:
    text = MANAGER.read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1)
        for line in (raw.split(";", 1)[0].replace(" ", "") for raw in text.splitlines())
        if "=" in line
    )
    assert set(settings["read"].split(",")) == {"call", "cdr", "agent", "user"}
    # system: ModuleLoad (res_pjsip reload for voice lines); reporting: the read-only
    # CoreShowChannels/CoreStatus of the Askozia status line; never command, config, dialplan
    assert set(settings["write"].split(",")) == {
        "call",
        "originate",
        "message",
        "system",
        "reporting",
    }
    assert settings["permit"].startswith("127.0.0.1")


# ------------------------------------------------------------------ call files' contexts

CALLFILE_CONTEXTS = {
    "pbxbridge-dial",
    "pbxbridge-campaign",
    "pbxbridge-campaign-ivr",
    "pbxbridge-callback",
    "pbxbridge-callback-queue",
    "pbxbridge-callback-connect",
    "pbxbridge-callback-answered",
}
TARGET_CONTEXTS = CALLFILE_CONTEXTS - {
    "pbxbridge-dial",
    "pbxbridge-callback-queue",
    "pbxbridge-callback-answered",
}
"""Contexts a call file's Context: names: each needs a `failed` extension."""
ASTERISK_VARIABLES = {"EXTEN", "REASON", "DIALSTATUS", "ARG1", "ARG2", "ARG3"}
"""Set by Asterisk itself: REASON in `failed`, DIALSTATUS by Dial, ARGn by Gosub."""
USER_EVENT = re.compile(r"UserEvent\((?P<name>\w+)(?P<headers>(?:,.*)?)\)")


def callfile_rows() -> list[tuple[int, str, str, str | None, str, str]]:
    return [row for row in ROWS if row[1] in CALLFILE_CONTEXTS]


def test_the_settings_name_contexts_that_exist() -> None:
    from callfile_spooler.campaigns import DEFAULT_CONTEXT
    from callfile_spooler.settings import CallbackSettings, SpoolSettings

    contexts = {c for _, c, _, _, _, _ in ROWS}
    assert contexts >= CALLFILE_CONTEXTS
    callback = CallbackSettings()
    named = {
        DEFAULT_CONTEXT,
        callback.context,
        callback.connect_context,
        SpoolSettings().channel.rsplit("@", 1)[1],
        callback.operator_channel.rsplit("@", 1)[1],
    }
    assert named <= contexts
    assert "pbxbridge-campaign-ivr" in contexts


def test_the_missed_call_tracker_knows_every_call_file_context() -> None:
    """Calls in these contexts are pbxbridge's own and never missed inbound calls."""
    from missed_calls.settings import MissedCallSettings

    assert set(MissedCallSettings().outbound_contexts) == CALLFILE_CONTEXTS


def test_every_user_event_is_one_the_spooler_understands() -> None:
    from callfile_spooler.events import USER_EVENT_FAILED, USER_EVENT_HEADERS, USER_EVENTS

    sent = [
        (n, USER_EVENT.fullmatch(f"UserEvent({args})"))
        for n, _, _, _, app, args in ROWS
        if app == "UserEvent"
    ]
    assert sent
    for number, match in sent:
        assert match is not None, number
        assert match["name"] in USER_EVENTS, f"line {number}: {match['name']}"
        headers = {h.split(":", 1)[0].strip() for h in split_args(match["headers"][1:])}
        assert headers <= USER_EVENT_HEADERS, number
        assert {"Campaign", "Attempt", "Number"} <= headers, number
        if match["name"] == USER_EVENT_FAILED:
            assert "Reason" in headers, number
    names = {m["name"] for _, m in sent if m is not None}
    assert names == USER_EVENTS


def test_every_call_file_context_reports_failures() -> None:
    for context in TARGET_CONTEXTS:
        failed = [args for _, c, e, _, app, args in ROWS if c == context and e == "failed"]
        assert any("CallFileFailed,Reason: ${REASON}" in a for a in failed), context


def test_the_dial_context_never_answers() -> None:
    apps = {app for _, c, _, _, app, _ in ROWS if c == "pbxbridge-dial"}
    assert "Dial" in apps
    assert "Answer" not in apps


def test_every_variable_read_is_one_a_call_file_or_the_dialplan_sets() -> None:
    from callfile_spooler.calls import CALL_FILE_VARIABLES

    rows = callfile_rows()
    assigned = {
        split_args(args)[0].split("=", 1)[0] for *_, app, args in rows if app in ("Set", "Read")
    } | {
        inner.split("=", 1)[0]
        for *_, app, args in rows
        if app == "ExecIf"
        for inner in re.findall(r"Set\(([A-Z_]+=)", args)
    }
    read = {(n, m["name"]) for n, *_, args in rows for m in VARIABLE.finditer(args)}
    known = CALL_FILE_VARIABLES | ASTERISK_VARIABLES | assigned
    assert [(n, v) for n, v in read if v not in known] == []
    # what pbxbridge writes is what the dialplan reads, both ways
    from callfile_spooler.calls import NUMBER_VARIABLES, VAR_MESSAGE
    from callfile_spooler.dialing import VAR_ATTEMPT, VAR_CAMPAIGN, VAR_EXTENSION, VAR_NUMBER

    used = {v for _, v in read}
    assert {VAR_CAMPAIGN, VAR_ATTEMPT, VAR_NUMBER, VAR_EXTENSION, VAR_MESSAGE} <= used
    assert set(NUMBER_VARIABLES) <= used


def test_the_campaign_message_is_played_only_when_it_exists() -> None:
    for context in ("pbxbridge-campaign", "pbxbridge-campaign-ivr"):
        args = [a for _, c, _, _, app, a in ROWS if c == context and app == "GotoIf"]
        assert any("STAT(e,${CAMPAIGN_MESSAGE}.wav)" in a for a in args), context


# ------------------------------------------------------------------ self-service: pause, equipment


def test_the_menu_offers_pause_resume_and_the_equipment_check() -> None:
    menu = {
        exten: args
        for _, c, exten, _, app, args in ROWS
        if c == "pbxbridge-selfservice" and app == "AGI"
    }
    assert menu["4"].startswith("agi://127.0.0.1:4573/pause")
    assert menu["5"].startswith("agi://127.0.0.1:4573/unpause")
    assert menu["6"].startswith("agi://127.0.0.1:4573/swstatus")
    support = [args for _, c, _, _, app, args in ROWS if c == "pbxbridge-support"]
    assert "agi://127.0.0.1:4573/swstatus" in support  # before the queue
    # every known caller reaches the menu: active, debtor, frozen
    inbound = [args for _, c, _, _, app, args in ROWS if c == "pbxbridge-inbound"]
    assert inbound.count("pbxbridge-selfservice,s,1") == 3


def test_the_results_the_dialplan_compares_are_ones_the_routes_set() -> None:
    from agi.routes.common import PinCheck
    from billing_client.pause import EquipmentStatus, PauseReason, PauseResult

    said = {
        "PAUSE_RESULT": {str(v) for v in PauseResult},
        "PAUSE_REASON": {str(v) for v in PauseReason} | {str(v) for v in PinCheck},
        "EQUIPMENT_STATUS": {str(v) for v in EquipmentStatus},
    }
    compared = re.compile(r'"\$\{(?P<name>[A-Z_]+)\}" !?= "(?P<value>[A-Z_]*)"')
    seen: dict[str, set[str]] = {}
    for *_, args in ROWS:
        for m in compared.finditer(args):
            if m["name"] in said:
                seen.setdefault(m["name"], set()).add(m["value"])
    assert set(seen) == set(said)
    for name, values in seen.items():
        assert values <= said[name], name
    assert {"ALREADY_PAUSED", "NOT_PAUSED", "NO_FREEZE_DAYS", "LOCKED"} <= seen["PAUSE_REASON"]


# ------------------------------------------------------------------ voice lines


def test_the_line_contexts_exist_and_count_channels() -> None:
    from lines.settings import LinesSettings

    settings = LinesSettings()
    contexts = {c for _, c, _, _, _, _ in ROWS}
    assert {settings.context, settings.suspended_context, "pbxbridge-line-call"} <= contexts
    for context in (settings.context, "pbxbridge-line-call"):
        args = " ".join(a for _, c, _, _, _, a in ROWS if c == context)
        assert "GROUP(pbxbridge-lines)=" in args, context
        assert "GROUP_COUNT(" in args, context
        assert "device_state_busy_at" in args, context
    suspended = [a for _, c, _, _, app, a in ROWS if c == settings.suspended_context]
    assert "pbxbridge/line-suspended" in suspended
    call = " ".join(a for _, c, _, _, _, a in ROWS if c == "pbxbridge-line-call")
    assert f'= "{settings.suspended_context}"' in call
