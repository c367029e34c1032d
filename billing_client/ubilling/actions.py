"""Ubilling's periodic remoteapi actions (its crontab's `/bin/ubapi "…"` lines): what each
answers, and how pbxbridge reads the answer.

Every action pbxbridge schedules ends with PHP's `die('<answer>')` (modules/remoteapi/
<action>.php, unchanged in substance since the 2019 split into one file per action), some
after progress lines (`swpoll`: one line per switch; `fullhostscan`: one per network;
`callshistusrupd`: `GUESSED:3 MISSED:10 ` before its word). The last line decides:

* `OK:…` / `OK: …`: ok. `OK:SWPING`, `OK: NASMON`, `OK:BACKUPDB <file>`, `OK:AUTOCLEANDB
  <n>`, `` OK:SENDDOG SMS `n` TLG `n` EML `n` ``, `` OK: FEES HARVESTED `n` ``, `OK: WDYC`,
  `OK: WDYCSTATS`, `GUESSED:3 MISSED:10 OK:CALLSHIST_USERS_UPDATE`, `OK:SERVICE_CHARGE_FEE`…
* `CACHEDOG:CACHE_OK`, `CACHEDOG:CACHE_CLEANED` (cachedog): ok.
* `SKIP:…`, `SKIPPED:…`, `WARNING:…ALREADY_RUNING`: skipped. Ubilling's own lock (StarDust,
  a pid file) says its previous run still goes: swping, swpoll, exhorse, nasmon, multigen,
  rebuildglscache (also `SKIPPED:SPHINX_SEARCH_ENABLED`), oltpoll, senddog, feesharvester.
* `ERROR:…`: failed, quoted. The module is off in alter.ini (`ERROR:FASTPING_DISABLED`,
  `ERROR: WDYC DISABLED`, `ERROR:NO_WATCHDOG_ENABLED` …) or had nothing to work on
  (`ERROR:SWPOLL_NODEVICES`), or refused (`ERROR:CALLSHIST_ALREADY_RUNS`). Nothing was done.
* `FAIL:NO_CONTENT_DN_EXISTS` (fullhostscan), `You missed an important option:
  MYSQLDUMP_PATH` (backupdb, in Ubilling's language): failed, quoted.
* Whatever the action: the envelope's errors (`ERROR:GET_WRONG_KEY`, `ERROR:API_DISABLED`
  …), the HTML login page (an action this Ubilling does not have, or one listed in its
  REMOTEAPI_DISABLE_CALLS), Stargazer's "not running" page: failed, nothing done. A PHP
  error, an empty body or anything else: failed, quoted.

No action here answers an empty body when it worked, so an empty body is a failure (PHP
died before its last word). A PHP warning printed before the action's `OK` does not make
it a failure; the quote shows it. Quotes are at most 200 characters, scrubbed of the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from billing_client.errors import UnexpectedReply
from billing_client.ubilling.http import scrub
from billing_client.ubilling.replies import refuse_or_unexpected

QUOTE_MAX = 200

_VERDICT = re.compile(r"\b(?P<word>OK|CACHEDOG|SKIPPED|SKIP|WARNING|ERROR|FAIL)(?=[:\s]|$)")
_COUNT = re.compile(r"\b([A-Z]{3,}):(\d+)\b")
_OK_WORDS = frozenset({"ok", "cachedog"})
_SKIP_WORDS = frozenset({"skip", "skipped"})


class ActionOutcome(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ActionAnswer:
    """What a periodic action answered, as pbxbridge reads it."""

    action: str
    outcome: ActionOutcome
    quote: str
    """The answer's last line (or its start, when that explains more), ≤ 200 characters."""
    reason: str = ""
    """For a failure: one line saying what the answer means."""
    nothing_done: bool = False
    """A failure that came before any work (a refusal): a retry cannot repeat work."""
    counts: dict[str, int] | None = None


def _quote(text: str, secret: str) -> str:
    flat = " ".join(scrub(text, secret).split())
    return flat if len(flat) <= QUOTE_MAX else flat[: QUOTE_MAX - 1] + "…"


def _last_line(body: str) -> str:
    lines = [line for line in body.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def read_answer(action: str, body: str, secret: str = "") -> ActionAnswer:
    """Read the answer of a periodic `action` (see the module's table)."""
    last = _last_line(body)
    match = _VERDICT.search(last)
    word = match.group("word").lower() if match else ""
    if word in _OK_WORDS or (word == "warning" and "ALREADY" in last.upper()):
        outcome = ActionOutcome.OK if word in _OK_WORDS else ActionOutcome.SKIPPED
        counts = {k.lower(): int(v) for k, v in _COUNT.findall(last)}
        return ActionAnswer(action, outcome, _quote(last, secret), counts=counts or None)
    if word in _SKIP_WORDS:
        return ActionAnswer(action, ActionOutcome.SKIPPED, _quote(last, secret))
    return _failure(action, body, last, word, secret)


def _failure(action: str, body: str, last: str, word: str, secret: str) -> ActionAnswer:
    if not last:
        reason = "Ubilling answered nothing (PHP died before the action's last word?)"
        return ActionAnswer(action, ActionOutcome.FAILED, "", reason)
    refusal = refuse_or_unexpected(action, body, secret)
    if (
        type(refusal) is not UnexpectedReply
    ):  # UbillingRefused: envelope, login page, Stargazer, empty
        reason = str(refusal).removeprefix(f"{action}: ")
        return ActionAnswer(
            action, ActionOutcome.FAILED, _quote(body, secret), reason, nothing_done=True
        )
    if word == "error":
        reason = "Ubilling refused (a module off in alter.ini, or nothing to work on)"
        return ActionAnswer(
            action, ActionOutcome.FAILED, _quote(last, secret), reason, nothing_done=True
        )
    if "<b>" in body and ("error</b>" in body.lower() or "warning</b>" in body.lower()):
        return ActionAnswer(
            action, ActionOutcome.FAILED, _quote(body, secret), "Ubilling answered a PHP error"
        )
    reason = "Ubilling failed" if word == "fail" else "Ubilling answered something unexpected"
    return ActionAnswer(action, ActionOutcome.FAILED, _quote(last or body, secret), reason)


def unanswered(action: str, reason: str, *, nothing_done: bool) -> ActionAnswer:
    """A periodic action that got no answer at all (`reason`: one safe line)."""
    reason = reason.removeprefix(f"{action}: ")
    return ActionAnswer(action, ActionOutcome.FAILED, "", reason, nothing_done=nothing_done)
