"""How the answer of each periodic remoteapi action is read: the bodies are the ones the
actions' PHP dies with (modules/remoteapi/<action>.php) and the pages Ubilling falls back to."""

from __future__ import annotations

import pytest

from billing_client.ubilling.actions import ActionOutcome, read_answer
from tests.fakes.ubilling import LOGIN_PAGE, PHP_FATAL_ERROR, SERIAL, STARGAZER_DOWN

WARNED = "<br />\n<b>Warning</b>:  Undefined array key 5 in x.php on line 9<br />\nOK:SWPOLL"
SWPOLL = "2026-11-22 12:00:00 10.0.0.2 [OK]\n2026-11-22 12:00:01 10.0.0.3 [OK]\nOK:SWPOLL"


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("vserviceschargefee", "OK:SERVICE_CHARGE_FEE"),
        ("swping", "OK:SWPING"),
        ("fastping", "OK:FASTPING"),
        ("fullhostscan", "172.16.0.0/24 :2026-11-22 12:00:00:SCANNED\nOK:FULLHOSTSCAN"),
        ("swpoll", SWPOLL),
        ("watchdog", "OK:WATCHDOG"),
        ("senddog", "OK:SENDDOG SMS `2` TLG `0` EML `0`"),
        ("backupdb", "OK:BACKUPDB content/backups/sql/ubilling-2026-11-22_01_01_00.sql"),
        ("rebuildglscache", "OK:REBUILDGLSCACHE"),
        ("dealwithit", "OK:DEALWITHIT"),
        ("exhorse", "OK:EXHORSE"),
        ("nasmon", "OK: NASMON"),
        ("mtsigmonpoll", "OK:MTPOLL"),
        ("autocleandb", "OK:AUTOCLEANDB 1234"),
        ("fdbarchive", "OK:FDBARCHIVE"),
        ("oltpoll", "OK:OLTPOLL"),
        ("cachedog", "CACHEDOG:CACHE_OK"),
        ("cachedog", "CACHEDOG:CACHE_CLEANED"),
        ("multigen", "OK: MULTIGEN_AUTOCLEANUP\nOK: MULTIGEN"),
        ("feesharvester", "OK: FEES HARVESTED `431`"),
        ("whydoyoucall", "TELEPONY:FETCHED\nOK: WDYC"),
        ("whydoyoucallstats", "OK: WDYCSTATS"),
        ("callshistusrupd", "GUESSED:3 MISSED:10 OK:CALLSHIST_USERS_UPDATE"),
        # display_errors on: a warning before the action's word does not undo the work
        ("swpoll", WARNED),
    ],
)
def test_what_each_action_answers_when_it_worked(action: str, body: str) -> None:
    answer = read_answer(action, body, SERIAL)
    assert answer.outcome is ActionOutcome.OK, answer
    assert answer.quote == " ".join(body.splitlines()[-1].split())


def test_counts_come_from_the_answer() -> None:
    answer = read_answer("callshistusrupd", "GUESSED:3 MISSED:10 OK:CALLSHIST_USERS_UPDATE")
    assert answer.counts == {"guessed": 3, "missed": 10}


@pytest.mark.parametrize(
    "body",
    [
        "SKIP:SWPING_ALREADY_RUNNING",
        "SKIP:SWPOLL_ALREADY_RUNNING",
        "SKIP:EXHORSE_ALREADY_RUNNING",
        "SKIP:NASMON_ALREADY_RUNNING",
        "SKIP: MULTIGEN ALREADY RUNNING",
        "SKIPPED:ALREADY_RUNNING",
        "SKIPPED:SPHINX_SEARCH_ENABLED",
        "SKIPPED:OLTPOLL",
        "WARNING:SENDDOG_ALREADY_RUNING",
        "WARNING:FEES_HARVESTER_ALREADY_RUNING",
    ],
)
def test_ubillings_own_lock_is_a_skip(body: str) -> None:
    answer = read_answer("x", body)
    assert answer.outcome is ActionOutcome.SKIPPED
    assert answer.quote == body


@pytest.mark.parametrize(
    "body",
    [
        "ERROR:FASTPING_DISABLED",
        "ERROR:NO_WATCHDOG_ENABLED",
        "ERROR:SENDDOG_DISABLED",
        "ERROR:DEALWITHIT DISABLED",
        "ERROR:EXHORSE_DISABLED",
        "ERROR: NASMON DISABLED",
        "ERROR:MTSIGMON_DISABLED",
        "ERROR:PON_DISABLED",
        "ERROR: MULTIGEN DISABLED",
        "ERROR:FEES_HARVESTER_DISABLED",
        "ERROR: WDYC DISABLED",
        "ERROR:CALLSHIST_DISABLED",
        "ERROR:CALLSHIST_ALREADY_RUNS",
        "ERROR:SWPOLL_NODEVICES",
    ],
)
def test_an_error_answer_is_a_failure_that_did_nothing(body: str) -> None:
    answer = read_answer("x", body)
    assert answer.outcome is ActionOutcome.FAILED
    assert answer.quote == body
    assert answer.nothing_done
    assert "refused" in answer.reason


@pytest.mark.parametrize(
    ("body", "reason", "nothing_done"),
    [
        (LOGIN_PAGE, "HTML login page", True),
        ("ERROR:GET_WRONG_KEY", "refused the key", True),
        ("ERROR:API_DISABLED", "remote API is off", True),
        (STARGAZER_DOWN, "Stargazer is not running", True),
        (PHP_FATAL_ERROR, "PHP error", False),
        ("", "answered nothing", False),
        ("  \n ", "answered nothing", False),
        ("FAIL:NO_CONTENT_DN_EXISTS", "Ubilling failed", False),
        ("You missed an important option: MYSQLDUMP_PATH", "unexpected", False),
        ("Ви пропустили важливу опцію: MYSQLDUMP_PATH", "unexpected", False),
    ],
)
def test_pages_errors_and_nothing_are_failures(body: str, reason: str, nothing_done: bool) -> None:
    answer = read_answer("swping", body, SERIAL)
    assert answer.outcome is ActionOutcome.FAILED
    assert reason in answer.reason
    assert answer.nothing_done is nothing_done
    assert len(answer.quote) <= 200


def test_the_quote_is_cut_and_never_carries_the_key() -> None:
    body = f"<b>Fatal error</b>: cannot use key={SERIAL} for {SERIAL} " + "x" * 500
    answer = read_answer("nasmon", body, SERIAL)
    assert answer.outcome is ActionOutcome.FAILED
    assert SERIAL not in answer.quote
    assert "key=***" in answer.quote
    assert len(answer.quote) == 200
    assert answer.quote.endswith("…")
