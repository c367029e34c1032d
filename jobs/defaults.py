"""The default job tables: what pbxbridge runs, per billing backend, unless `[[jobs]]` says
otherwise.

* `EMBEDDED` (billing.backend = "local"): the embedded billing's periodic work (README,
  "The embedded billing's periodic work").
* `UBILLING` (billing.backend = "ubilling"): Ubilling's minimum crontab as its wiki gives
  it (remoteapi page, "crontab -e у мінімальному джентльменському наборі"; the same lines
  are Ubilling's docs/crontab/crontab.preconf), each line a remoteapi action at the same
  time, plus the telephony actions WhyDoYouCall and the calls history need.
* `HOUSEKEEPING` (both): pbxbridge's own database: missed-call statistics, retention and
  the SQLite backup.

Times avoid 03:00-03:59 local where they could (the DST hours; the rules for a job there
are in jobs/cron.py). A job's `timeout` bounds one attempt: Ubilling's long actions
(backupdb, swpoll over many switches, autocleandb) get an hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Default:
    """A job of a default table."""

    name: str
    schedule: str
    timeout: float
    about: str
    enabled: bool = True
    idempotent: bool = True
    """Running it twice does no harm (a retry after a timeout may repeat work)."""
    action: str | None = None
    """Ubilling: the remoteapi action and its parameters (`fullhostscan&param=traffdiff&nn=1`)."""


EMBEDDED: tuple[Default, ...] = (
    Default("end_credits", "1 0 * * *", 10 * MINUTE, "clears credits past their last day"),
    Default("charge_fee", "5 0 * * *", 30 * MINUTE, "the tariff fee, once per subscriber and day"),
    Default("autofreeze", "*/10 * * * *", 10 * MINUTE, "freezes debtors, unfreezes who paid"),
    Default("reminders", "0 10 * * *", 10 * MINUTE, "SMS to those whose money runs out"),
    Default(
        "debtors_campaign",
        "0 11 * * *",
        10 * MINUTE,
        "a call campaign of the debtors (off until turned on: it calls people)",
        enabled=False,
    ),
)

HOUSEKEEPING: tuple[Default, ...] = (
    Default("missed_stats", "55 23 * * *", 10 * MINUTE, "the day's missed-call statistics row"),
    Default("retention", "30 4 * * *", HOUR, "prunes old SMS, call attempts, calls, job history"),
    Default("db_backup", "15 4 * * *", HOUR, "a rotated copy of the SQLite database"),
)


def _crontab(schedule: str, action: str, about: str, timeout: float = 10 * MINUTE) -> Default:
    name = action.split("&", 1)[0]
    return Default(name, schedule, timeout, about, action=action)


UBILLING: tuple[Default, ...] = (
    Default(
        "vserviceschargefee",
        "40 1 1 * *",
        HOUR,
        "charges the virtual services' fees (once a month)",
        idempotent=False,  # a second run charges again
        action="vserviceschargefee",
    ),
    _crontab("*/20 * * * *", "swping", "pings the switches (dead switches cache)"),
    _crontab("*/10 * * * *", "fastping", "FastPing of the switches"),
    _crontab(
        "5 * * * *",
        "fullhostscan&param=traffdiff&nn=1",
        "who is online, from traffic changes (no nmap)",
        HOUR,
    ),
    _crontab("0 */1 * * *", "swpoll", "SNMP poll of the switches", HOUR),
    _crontab("*/10 * * * *", "watchdog", "runs the WatchDog's tasks"),
    _crontab("*/5 * * * *", "senddog", "sends the queued SMS, Telegram and e-mail"),
    _crontab("1 1 * * *", "backupdb", "backs up Ubilling's database", HOUR),
    _crontab("3 * * * *", "rebuildglscache", "rebuilds the global search cache"),
    _crontab("10 2 * * *", "dealwithit", "the day's DealWithIt tasks"),
    _crontab("50 23 * * *", "exhorse", "the existential horse's statistics", HOUR),
    _crontab("*/10 * * * *", "nasmon", "checks the NAS servers are alive"),
    _crontab("*/30 * * * *", "mtsigmonpoll", "wireless signal levels"),
    _crontab("10 10 1 * *", "autocleandb", "cleans old logs and statistics (monthly)", HOUR),
    _crontab("10 */1 * * *", "fdbarchive", "archives the switches' FDB cache"),
    _crontab("*/10 * * * *", "oltpoll", "polls the PON OLTs"),
    _crontab("*/20 * * * *", "cachedog", "drops the users data caches when they changed"),
    _crontab("*/2 * * * *", "multigen", "MultiGen: regenerates the NAS attributes"),
    _crontab("10 0 * * *", "feesharvester", "copies Stargazer's fee log into the database", HOUR),
    # Telephony (not in the minimum crontab): WhyDoYouCall and the incoming calls history.
    _crontab("*/5 * * * *", "whydoyoucall", "WhyDoYouCall: fetches the unanswered calls"),
    _crontab("55 23 * * *", "whydoyoucallstats", "WhyDoYouCall: the day's statistics row"),
    _crontab("15 * * * *", "callshistusrupd", "guesses the logins of unknown callers"),
)


def default_table(backend: str) -> tuple[Default, ...]:
    """The default jobs of a billing backend, in the order `jobs list` shows them."""
    own = UBILLING if backend == "ubilling" else EMBEDDED
    return own + HOUSEKEEPING


def names(table: Iterable[Default]) -> list[str]:
    return [d.name for d in table]
