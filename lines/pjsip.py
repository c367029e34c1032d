"""The PJSIP include file: every open line as an endpoint, an auth and an aor.

The file is pbxbridge's alone and is rendered whole from the lines at every change, so a
hand edit or a half-applied change never survives the next one. Each value goes through
`ini_value`, the one place that decides what may stand after `key = ` in Asterisk's
config syntax; the values were checked before (lines.values), this is the last guard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lines.errors import BadValue
from lines.settings import LinesSettings

HEADER = """\
; Written by pbxbridge (`pbxbridge line …`, BILLmanager's ShellScripts). Do not edit:
; every change rewrites this file whole from pbxbridge's database. pjsip.conf includes it:
;     #include "{name}"
"""

LINE_VARIABLE = "PBXBRIDGE_LINE"
"""Set on every channel of a line's endpoint (set_var): the line's name, which the
dialplan counts channels by."""

_UNSAFE = re.compile(r"[\x00-\x1f\x7f;\[\]\\]")


def ini_value(value: str) -> str:
    """`value` as it may stand after `key = ` in an Asterisk config file; BadValue when it
    would not stay one value there (a newline starts a new setting, `;` a comment, `[` a
    section, a backslash escapes; leading or trailing spaces are trimmed by Asterisk)."""
    if _UNSAFE.search(value) or value != value.strip():
        raise BadValue(f"refused to write {value[:40]!r} into the PJSIP file")
    return value


@dataclass(frozen=True, slots=True)
class LineConfig:
    """What the file says about one line."""

    name: str
    password: str
    callerid: str
    max_channels: int
    codecs: Sequence[str]
    blocked: bool


def _section(name: str, template: str, pairs: Iterable[tuple[str, str]]) -> list[str]:
    head = f"[{ini_value(name)}]" + (f"({ini_value(template)})" if template else "")
    return [head, *(f"{key} = {ini_value(value)}" for key, value in pairs), ""]


def render(lines: Iterable[LineConfig], settings: LinesSettings) -> str:
    """The whole include file for `lines` (the open ones), in the order given."""
    out = [HEADER.format(name=settings.pjsip_file.name)]
    for line in lines:
        context = settings.suspended_context if line.blocked else settings.context
        endpoint = [
            ("type", "endpoint"),
            ("context", context),
            ("disallow", "all"),
            ("allow", ",".join(line.codecs)),
            ("auth", line.name),
            ("aors", line.name),
            ("device_state_busy_at", str(line.max_channels)),
            ("set_var", f"{LINE_VARIABLE}={line.name}"),
        ]
        if line.callerid:
            endpoint.append(("callerid", line.callerid))
        if settings.transport:
            endpoint.append(("transport", settings.transport))
        out += _section(line.name, settings.endpoint_template, endpoint)
        out += _section(
            line.name,
            "",
            [
                ("type", "auth"),
                ("auth_type", "userpass"),
                ("username", line.name),
                ("password", line.password),
            ],
        )
        out += _section(
            line.name,
            "",
            [("type", "aor"), ("max_contacts", "1"), ("remove_existing", "yes")],
        )
    return "\n".join(out)
