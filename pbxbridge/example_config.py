"""Writes pbxbridge.example.toml from the settings classes, so the documented keys, their
defaults and their descriptions are the code's own (a test checks the file is current).

    .venv/bin/python -m pbxbridge.example_config > pbxbridge.example.toml

`render_local()` is the same file for a project folder (`pbxbridge config init`, which
`make run` calls): the spool, the campaign sounds and the lines' PJSIP file under ./var,
next to the database.
"""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from callfile_spooler.settings import SpoolSettings
from lines.settings import LinesSettings
from pbxbridge.settings import Settings

HEADER = """\
# pbxbridge configuration. Copy to /etc/pbxbridge/pbxbridge.toml (or pass --config FILE,
# or set PBXBRIDGE_CONFIG; ./pbxbridge.toml in the folder pbxbridge runs from comes before
# /etc/pbxbridge/). Every key can be overridden by an environment variable
# PBXBRIDGE_<SECTION>__<KEY>, e.g. PBXBRIDGE_AGI__PORT=4574 or PBXBRIDGE_BILLING__KEY=UB...
# Relative paths resolve against the folder of this file. Unknown keys are errors.
# Generated from the code: .venv/bin/python -m pbxbridge.example_config
"""

LOCAL_HEADER = """\
# pbxbridge configuration for this folder, written once by `pbxbridge config init` (which
# `make run` calls when the file is missing; it never overwrites it): edit it freely.
# pbxbridge run from this folder, the service and the CLI alike, reads it unless --config
# or $PBXBRIDGE_CONFIG names another file. Every key can be overridden by an environment
# variable PBXBRIDGE_<SECTION>__<KEY>, e.g. PBXBRIDGE_AGI__PORT=4574.
# Relative paths resolve against the folder of this file: the database, the call-file
# spool, the campaign sounds and the voice lines' PJSIP file are under ./var here (no
# Asterisk needed); when Asterisk runs on this machine, set [spool] dir and sounds_dir and
# [lines] pjsip_file to its folders. Unknown keys are errors. The documented original:
# pbxbridge.example.toml.
"""

LOCAL_SPOOL_DIR = Path("var/spool/asterisk")
LOCAL_SOUNDS_DIR = Path("var/lib/asterisk/sounds/pbxbridge-campaigns")
"""`[spool]` of a project folder's config: Asterisk's folders, under ./var."""
LOCAL_PJSIP_FILE = Path("var/etc/asterisk/pjsip_pbxbridge.conf")
"""`[lines] pjsip_file` of a project folder's config, under ./var too."""

INTROS = {
    "database": "Where pbxbridge keeps its state: SQLite (nothing to install) or PostgreSQL.",
    "billing": "Which billing answers: the embedded one, or Ubilling's remoteapi.",
    "agi": "The FastAGI server Asterisk's AGI(agi://…) calls, and its IVR routes.",
    "ami": (
        "Asterisk Manager Interface: SMS, missed calls, call outcomes. Create the user from "
        "dialplan/manager_pbxbridge.conf and put its secret here (or PBXBRIDGE_AMI__SECRET)."
    ),
    "sms": "SMS through a GSM modem (chan_dongle / chan_quectel) or PJSIP MESSAGE.",
    "missed_calls": (
        "Missed calls from Cdr and Queue events (cdr_manager.conf: enabled = yes; cdr.conf: "
        "unanswered = yes)."
    ),
    "telegram": (
        "Staff notifications and the staff bot (/missed, /sms, /whois, /callback, /unlock)."
    ),
    "spool": "Asterisk call files for campaigns and callbacks.",
    "callback": (
        "Callback requests (pbxbridge callback request, the staff bot's /callback, the web "
        "form) and how they are dialled."
    ),
    "http": (
        "The HTTP server: REST API (tokens: pbxbridge tokens create), the callback form, the "
        "Ubilling and Askozia faces, /healthz and /metrics. Loopback by default."
    ),
    "retention": (
        "How long old records are kept (job retention); money (the audit journal, fee "
        "charges) is never pruned."
    ),
    "lines": (
        "Voice lines a hosting billing sells (BILLmanager's ShellScripts: `pbxbridge line "
        "…`, deploy/billmanager/): PJSIP endpoints in an include file, reloaded over AMI."
    ),
    "askozia": (
        "The Askozia PBX face for Ubilling before 1.5.9 (POST /status_cdr.php, GET "
        "/external_get_info.php), with HTTP Basic auth: set a password to switch it on."
    ),
    "telepony": (
        "Ubilling's TelePony, WhyDoYouCall and call history read Asterisk's CDR from MySQL: "
        "pbxbridge writes every Cdr leg there as cdr_mysql would (no ODBC on the PBX). Off "
        "while url is empty."
    ),
    "logging": "Log lines on stderr (journald keeps them under systemd).",
    "scheduler": (
        "The scheduled jobs (pbxbridge jobs list|run|history): each billing backend has a "
        "default table of jobs; [[jobs]] entries at the end of this file change it."
    ),
    "webhook_delivery": (
        "How [[webhooks]] (at the end of this file) are delivered: retries, how long to keep "
        "trying, how many events one webhook may hold undelivered."
    ),
}

ARRAY_TABLES = {
    "jobs": """\
########################################################################################
# [[jobs]]: one entry per job to change (keys left out keep the default) or to add.
# `pbxbridge jobs list` shows the table in force. With Ubilling a new job is a remoteapi
# action, written as after /bin/ubapi in a crontab line.
# [[jobs]]
# name = "fastping"              # a default job: turned off
# enabled = false
# [[jobs]]
# name = "charge_fee"            # a default job: moved, retried
# schedule = "15 0 * * *"        # minute hour day month weekday, in `timezone`
# timeout = 1800.0               # seconds one attempt may take
# attempts = 3                   # tries per run (1: no retry)
# retry_delay = 60.0             # seconds before the first retry, doubling
# retry_delay_max = 900.0        # the longest wait between tries
# [[jobs]]
# name = "vservices_weekly"      # Ubilling: a new job
# schedule = "40 1 * * 1"
# action = "vserviceschargefee&period=7"
""",
    "webhooks": """\
########################################################################################
# [[webhooks]]: a signed JSON POST to the ISP's own server on each event it lists
# (sms.received, call.missed, call.answered, callback.finished, campaign.finished).
# The receiver checks X-Pbxbridge-Signature (HMAC-SHA256 of timestamp + "." + body with
# the secret) and deduplicates on X-Pbxbridge-Delivery: see the README, Webhooks.
# `pbxbridge webhooks list` shows them, `pbxbridge webhooks test NAME` sends one now.
# [[webhooks]]
# name = "billing"
# url = "https://billing.example.net/pbxbridge/hook.php"   # user:password@ → Basic auth
# events = ["sms.received", "call.missed", "callback.finished"]
# secret = "…at least 16 characters: openssl rand -hex 32…"  # never logged
# timeout = 10.0                 # seconds one delivery may take
""",
}
"""Settings written as TOML arrays of tables: shown commented out at the end of the file
(a `jobs = []` above them would clash with the [[jobs]] tables a reader adds)."""


def _value(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        return '""'
    if value is None:
        return None
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str) -> list[str]:
    return ["# " + line for line in textwrap.wrap(text, 88)]


def _section(name: str, model: BaseModel) -> list[str]:
    lines: list[str] = []
    if name in INTROS:
        lines += ["#" * 88, *_comment(INTROS[name])]
    if name:
        lines.append(f"[{name}]")
    nested: list[tuple[str, BaseModel]] = []
    for key, field in type(model).model_fields.items():
        value = getattr(model, key)
        if key in ARRAY_TABLES and not name:
            lines += [*_comment(field.description or ""), f"# {key} = (as [[{key}]] tables below)"]
            continue
        if isinstance(value, BaseModel):
            nested.append((f"{name}.{key}" if name else key, value))
            continue
        lines += _comment(field.description or "")
        rendered = _value(value)
        lines.append(f"{key} = {rendered}" if rendered is not None else f"# {key} =")
    lines.append("")
    for child_name, child in nested:
        lines += _section(child_name, child)
    return lines


def _render(header: str, settings: Settings) -> str:
    body = "\n".join(_section("", settings)).rstrip() + "\n"
    return header + "\n" + body + "".join("\n" + text for text in ARRAY_TABLES.values())


def render() -> str:
    """pbxbridge.example.toml: every key at its default."""
    return _render(HEADER, Settings.model_construct())


def render_local() -> str:
    """The example for a project folder: the spool, the sounds and the lines' PJSIP file
    under ./var."""
    spool = SpoolSettings.model_construct(dir=LOCAL_SPOOL_DIR, sounds_dir=LOCAL_SOUNDS_DIR)
    lines = LinesSettings.model_construct(pjsip_file=LOCAL_PJSIP_FILE)
    return _render(LOCAL_HEADER, Settings.model_construct(spool=spool, lines=lines))


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
