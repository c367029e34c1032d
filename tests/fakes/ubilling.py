"""A fake Ubilling 1.6.4 (rev 9708) remoteapi, served over real HTTP on localhost.

It implements what tests/fixtures/ubilling-live-responses.md shows a real Ubilling doing,
following the PHP it runs (modules/general/remoteapi/index.php, modules/remoteapi/
asterisk.php, telepony.php, userbynum.php, api.pbxnum.php, api.telepathy.php,
api.asterisk.php, api.fundsflow.php): the envelope, the three number-matching algorithms,
the money rules, call logging, Stargazer running or stopped, and UbillingCache as a
shipped install runs it (redis or files storage; see `UbillingCache` below). It is not a
table of URLs: state changes, and later answers follow from it.

Caches (reference §1.2-1.3, read in api.pbxnum.php, api.telepathy.php, api.userdata.php,
modules/remoteapi/userbynum.php, cachedog.php), aged by the fake's clock:
- `PBXUSERDATA`, 1 h: every users row's Cash, Credit, Passive, Down, AlwaysOnline and Fee,
  read by userstatus, telepony and the default branch; `ignorecache` (userstatus and the
  default branch only, PHP empty(): `0` counts as absent) reloads it and stores the reload;
- `PHONEDATA` / `EXTMOBILES`, 1 day: the phone lists those requests and userbynum match
  numbers against (userbynum's `nocache` reads the tables instead);
- `PHONETELEPATHY`, 1 day: number -> login, consulted first by userbynum (written by
  PBXMonitor, never by userbynum; `remember_number` stands in for it);
- `USER_ALL_DATA`, 1 day: userbynum's `userdata` and getuserdatabylogin's `userpass` check;
- `cachedog` drops USER_ALL_DATA when the users data changed, and with USERBYNUM_ENABLED the
  phone caches too. Nothing drops PBXUSERDATA. Stargazer's own changes (cash, credit,
  freeze) and edits a test makes to `state` drop nothing either, as in the real thing.
getuserdatabylogin / getuserdatabymobile, login / loginuniq / realname and
getonlinedaysleft read the tables every time. `config.cache_storage = "fake"` switches all
caching off, as the recording in the reference was made.

Usage::

    async with FakeUbilling(clock=clock) as fake:
        settings = BillingSettings(backend="ubilling", url=fake.url, key=SecretStr(fake.serial))
        fake.stop_stargazer()                      # money moves then silently do nothing
        fake.config.userbynum_enabled = False      # alter.ini switches
        fake.config.callmeback_enabled = False     # CALLMEBACK_ENABLED=0 (fake.state.callmeback)
        fake.config.cache_storage = "fake"         # UBCACHE_STORAGE=fake: no caching at all
        fake.config.freeze_days_charge_enabled = True   # setpause checks frozen_charge_days
        fake.state.frozen_charge_days["testuser1"] = FreezeDays(amount=30, used=30)
        fake.state.switch_ports["testuser1"] = "10.0.0.2"  # swstatus: OK
        fake.state.dead_switches.add("10.0.0.2")           # swstatus: DIE (SWDEAD)
        clock.instant += timedelta(hours=1)        # ages the caches (the fake's clock)
        fake.add_fault(Fault(delay=2.0, when={"param": "setcredit"}))
        fake.config.wdyc_enabled = False           # whydoyoucall: ERROR: WDYC DISABLED
        fake.state.running.add("SWPOLL_ALL")       # swpoll: SKIP:SWPOLL_ALREADY_RUNNING
        fake.ran("swping"); fake.state.periodic    # the crontab's actions asked, answered

The periodic actions (Ubilling's crontab: swping, swpoll, senddog, multigen, backupdb,
vserviceschargefee, whydoyoucall, callshistusrupd …) follow modules/remoteapi/<action>.php:
the alter.ini switch, then the StarDust lock, then the work (vservices charged through
Stargazer, unknown callers' logins guessed, a wdycinfo row), then the action's own word.

Everything is answered HTTP 200 with `text/html; charset=UTF-8`, except userbynum (JSON with
`Access-Control-Allow-Origin: *`) and the faults a test asks for. The fake keeps no access
log: request URLs carry the key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from yarl import URL

from primitives.clock import Clock

SERIAL = "UB3debbb779deac3a5e8f7b7896bf8a53f"
LOGIN_PAGE_BYTES = 6893
STARGAZER_DOWN = (
    "Stargazer зараз не запущений. Ми категорично не рекомендуємо намагатися використовувати "
    "Ubilling в цьому випадку. Якщо ви абсолютно впевнені в тому що робите - ви можете "
    "вимкнути це сповіщення за допомогою опції NOSTGCHECKPID"
)
PHP_FATAL_ERROR = (
    "<br />\n<b>Fatal error</b>:  Uncaught mysqli_sql_exception: Access denied for user "
    "'asterisk'@'localhost' (using password: YES) in api/libs/api.asterisk.php:275\n"
    "Stack trace:\n#0 api/libs/api.asterisk.php(275): mysqli-&gt;__construct()\n"
    "#1 {main}\n  thrown in <b>api/libs/api.asterisk.php</b> on line <b>275</b><br />"
)
HTML_TYPE = "text/html; charset=UTF-8"
JSON_TYPE = "application/json; charset=UTF-8"


def _login_page() -> str:
    """The web UI's login page a remoteapi call falls through to: 6893 bytes, like the real one."""
    head = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml">\n<head>\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />\n'
        "<title>Ubilling</title>\n"
        '<link rel="stylesheet" href="skins/ubng/css/ubng.css" type="text/css" />\n'
        '<script type="text/javascript" src="modules/jsc/jquery.min.js"></script>\n'
        "</head>\n<body>\n"
        '<div class="loginform">\n<form action="" method="POST" class="glamour">\n'
        '<input type="text" name="username" placeholder="Login" />\n'
        '<input type="password" name="password" placeholder="Password" />\n'
        '<input type="submit" value="Log in" />\n</form>\n</div>\n'
    )
    tail = "</body>\n</html>\n"
    filler = LOGIN_PAGE_BYTES - len(head.encode()) - len(tail.encode())
    return head + ("<!--" + " " * (filler - 8) + "-->\n") + tail


LOGIN_PAGE = _login_page()
assert len(LOGIN_PAGE.encode()) == LOGIN_PAGE_BYTES

# ------------------------------------------------------------------ PHP semantics


def vf(text: str, mode: int = 0) -> str:
    """Ubilling's vf(): mode 0 strips a blacklist, mode 3 keeps digits."""
    if mode == 3:
        return re.sub(r"[^0-9]", "", text)
    return re.sub(r"[~@+?%/;=*><\"'\-]", "", text)


def php_empty(value: str | None) -> bool:
    return value is None or value in {"", "0"}


_NUMERIC = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")


def php_number(text: str) -> Decimal:
    """PHP's numeric reading of a string: its leading number, or 0."""
    match = re.match(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text)
    try:
        return Decimal(match.group(0).strip()) if match else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def php_loose_eq(a: str, b: str) -> bool:
    """PHP 8 `==` between strings: numerically when both are numeric strings."""
    if _NUMERIC.fullmatch(a) and _NUMERIC.fullmatch(b):
        return php_number(a) == php_number(b)
    return a == b


def php_json(value: Any) -> str:
    """json_encode() with default flags: ASCII only (\\uXXXX) and escaped slashes."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def php_float(value: float) -> str:
    """A float as serialize() writes it (serialize_precision -1)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value)) if value or not str(value).startswith("-") else "-0"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        power = int(exponent)
        return f"{mantissa}E{'+' if power >= 0 else '-'}{abs(power)}"
    return text


def php_serialize(value: str | float | list[Any]) -> str:
    if isinstance(value, str):
        return f's:{len(value.encode())}:"{value}";'
    if isinstance(value, float):
        return f"d:{php_float(value)};"
    items = "".join(f"i:{i};{php_serialize(v)}" for i, v in enumerate(value))
    return f"a:{len(value)}:{{{items}}}"


def mysql_number(value: Decimal) -> str:
    """A DOUBLE column as MySQL hands it to PHP: `150`, `-50`, `12.5`."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def like(pattern: str, value: str) -> bool:
    """MySQL `value LIKE pattern` (case-insensitive, % and _ wildcards)."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


_TRANSLIT = {
    "а": "a", "А": "A", "б": "b", "Б": "B", "в": "v", "В": "V", "г": "g", "Г": "G",
    "д": "d", "Д": "D", "е": "e", "Е": "E", "ё": "e", "Ё": "E", "ж": "zh", "Ж": "Zh",
    "з": "z", "З": "Z", "и": "y", "И": "Y", "й": "y", "Й": "Y", "к": "k", "К": "K",
    "л": "l", "Л": "L", "м": "m", "М": "M", "н": "n", "Н": "N", "о": "o", "О": "O",
    "п": "p", "П": "P", "р": "r", "Р": "R", "с": "s", "С": "S", "т": "t", "Т": "T",
    "у": "u", "У": "U", "ф": "f", "Ф": "F", "х": "h", "Х": "H", "ц": "c", "Ц": "C",
    "ч": "ch", "Ч": "Ch", "ш": "sh", "Ш": "Sh", "щ": "sch", "Щ": "Sch", "ъ": "", "Ъ": "",
    "ы": "y", "Ы": "Y", "ь": "", "Ь": "", "э": "e", "Э": "E", "ю": "yu", "Ю": "Yu",
    "я": "ya", "Я": "Ya", "і": "i", "І": "I", "ї": "yi", "Ї": "Yi", "є": "e", "Є": "E",
    "ґ": "g", "Ґ": "G", "'": "", "`": "",
}  # fmt: skip


def realname_translit(realname: str) -> str:
    """AsteriskGetInfoApi: keep [a-zA-Zа-яА-Я0-9ё ] (so і, ї, є, ґ vanish), then transliterate
    with zb_TranslitString(…, true) in the Ukrainian locale."""
    kept = re.sub(r"[^a-zA-Zа-яА-Я0-9ёЁ ]+", "", realname)
    return "".join(_TRANSLIT.get(c, c) for c in kept)


# ------------------------------------------------------------------ state


@dataclass
class User:
    """A row of Stargazer's `users` (plus realname, contract and IP from their tables)."""

    login: str
    password: str
    cash: Decimal
    tariff: str
    realname: str
    contract: str
    ip: str
    credit: Decimal = Decimal(0)
    credit_expire: int = 0
    passive: int = 0
    down: int = 0
    always_online: int = 1


@dataclass
class PhoneRow:
    login: str
    phone: str
    mobile: str


@dataclass
class ExtMobile:
    id: int
    login: str
    mobile: str
    notes: str


@dataclass
class Tariff:
    name: str
    fee: Decimal
    period: str = "month"


@dataclass
class Card:
    serial: str
    cash: Decimal
    active: int = 1
    used: int = 0
    usedlogin: str = ""
    usedip: str = ""
    usedate: str = ""


@dataclass
class Payment:
    login: str
    date: str
    admin: str
    balance: Decimal
    summ: Decimal
    cashtypeid: str
    note: str


@dataclass
class CardBrute:
    serial: str
    date: str
    login: str
    ip: str


@dataclass
class CallRecord:
    """A row of `callshist`, written by every userstatus/telepony/default-branch call."""

    id: int
    date: str
    number: str
    login: str


@dataclass
class CallMeBackRow:
    """A row of `callmeback` (api.callmeback.php): a new request is `undone`."""

    id: int
    date: str
    number: str
    state: str = "undone"


@dataclass
class FreezeDays:
    """A row of `frozen_charge_days` (FREEZE_DAYS_CHARGE_ENABLED): the freeze days a user
    may take and has taken."""

    amount: int
    used: int = 0


@dataclass
class UbillingState:
    users: dict[str, User] = field(default_factory=dict)
    tariffs: dict[str, Tariff] = field(default_factory=dict)
    phones: list[PhoneRow] = field(default_factory=list)
    mobileext: list[ExtMobile] = field(default_factory=list)
    cards: dict[str, Card] = field(default_factory=dict)
    payments: list[Payment] = field(default_factory=list)
    cardbrute: list[CardBrute] = field(default_factory=list)
    callshist: list[CallRecord] = field(default_factory=list)
    incallsnum_log: list[str] = field(default_factory=list)
    zbssclog: list[tuple[str, str]] = field(default_factory=list)  # (date, login)
    weblogs: list[str] = field(default_factory=list)
    switch_ports: dict[str, str] = field(default_factory=dict)  # login -> switch IP
    dead_switches: set[str] = field(default_factory=set)
    vservices: dict[str, list[tuple[str, Decimal, str]]] = field(default_factory=dict)
    callmeback: list[CallMeBackRow] = field(default_factory=list)
    frozen_charge_days: dict[str, FreezeDays] = field(default_factory=dict)  # by login
    # the periodic actions (Ubilling's crontab)
    switches: list[str] = field(default_factory=lambda: ["10.0.0.2", "10.0.0.3"])  # swpoll
    networks: list[str] = field(default_factory=lambda: ["172.16.0.0/24"])  # fullhostscan
    running: set[str] = field(default_factory=set)  # StarDust processes running now
    periodic: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    """Every periodic action asked: (action, its parameters but the key, the answer)."""
    wdycinfo: list[str] = field(default_factory=list)  # dates of whydoyoucallstats' rows
    dn_folder: bool = True  # content/dn exists (fullhostscan with DN_FULLHOSTSCAN)

    @classmethod
    def default(cls) -> UbillingState:
        """The test data of the reference's §4."""
        state = cls()
        state.tariffs = {
            "Test100": Tariff("Test100", Decimal(100)),
            "Test200": Tariff("Test200", Decimal(200)),
        }
        rows = [
            ("testuser1", "pass0001", "0501110001", "150", "0", 0, 0, "Test100",
             "Петренко Іван Петрович"),
            ("testuser2", "pass0002", "0501110002", "-50", "0", 0, 0, "Test100", "Debtor Dmytro"),
            ("testuser3", "pass0003", "0501110003", "200", "0", 1, 0, "Test200", "Frozen Fedir"),
            ("testuser4", "pass0004", "+380501110004", "-20", "50", 0, 0, "Test200",
             "Credit Kateryna"),
            ("testuser5", "pass0005", "380501110005", "10", "0", 0, 1, "Test100", "Down Denys"),
        ]  # fmt: skip
        for n, (login, password, mobile, cash, credit, passive, down, tariff, name) in enumerate(
            rows, start=1
        ):
            state.users[login] = User(
                login=login,
                password=password,
                cash=Decimal(cash),
                credit=Decimal(credit),
                passive=passive,
                down=down,
                tariff=tariff,
                realname=name,
                contract=f"1000{n}",
                ip=f"172.16.0.{n}",
            )
            state.phones.append(PhoneRow(login, "", mobile))
        for serial, value, active in (
            ("1111222233334444", 50, 1),
            ("5555666677778888", 100, 1),
            ("9999000011112222", 25, 0),
        ):
            state.cards[serial] = Card(serial, Decimal(value), active=active)
        return state


@dataclass
class Config:
    """The alter.ini switches the remoteapi reads."""

    remoteapi_enabled: bool = True
    asterisk_enabled: bool = True
    telepony_enabled: bool = True
    userbynum_enabled: bool = True
    mobiles_ext: bool = True
    nostgcheckpid: bool = True
    sc_check_enabled: bool = False  # ASTERISK_SC_CHECK_ENABLED
    sc_tariffs_allowed: str = ""  # ASTERISK_SC_TARIFFSALLOWED
    spread_fee: bool = False
    fundsflow_consider_vservices: bool = False
    disabled_calls: frozenset[str] = frozenset()  # REMOTEAPI_DISABLE_CALLS
    callmeback_enabled: bool = True  # CALLMEBACK_ENABLED
    freeze_days_charge_enabled: bool = False  # FREEZE_DAYS_CHARGE_ENABLED
    cache_storage: str = "redis"  # UBCACHE_STORAGE: redis and files keep, fake keeps nothing
    # The periodic actions' modules: on, as an install running the minimum crontab has them
    # (the shipped alter.ini has WATCHDOG, SENDDOG, PON, MULTIGEN, MTSIGMON, FASTPING, WDYC
    # and CALLSHIST off).
    fastping_enabled: bool = True
    watchdog_enabled: bool = True
    senddog_enabled: bool = True
    mysqldump_path: str = "/usr/local/bin/mysqldump"
    sphinx_search_enabled: bool = False
    dealwithit_enabled: bool = True
    exhorse_enabled: bool = True
    nasmon_enabled: bool = True
    mtsigmon_enabled: bool = True
    pon_enabled: bool = True
    multigen_enabled: bool = True
    fees_harvester: bool = True
    dn_fullhostscan: bool = True
    wdyc_enabled: bool = True
    callshist_enabled: bool = True


# ------------------------------------------------------------------ UbillingCache

PBXUSERDATA_TIME = 3600  # PBXNum::CACHE_TIME
PHONE_CACHE_TIME = 86400  # Telepathy::PHONE_CACHE_TIME
USER_ALL_DATA_TIME = 86400  # zb_UserGetAllDataCache


@dataclass
class _Cached:
    value: Any
    stored: datetime
    ttl: float


class UbillingCache:
    """api.ubillingcache.php as the remoteapi uses it, aged by the fake's clock.

    A value lives `ttl` seconds from when it was set (redis: the key's TTL; files: the
    file's age against the same number). Values are deep copies both ways, so a test
    changing `state` afterwards does not reach into what the cache holds. With the `fake`
    storage nothing is kept and every get misses.
    """

    def __init__(self, clock: Clock, storage: Callable[[], str]) -> None:
        self._clock = clock
        self._storage = storage
        self._entries: dict[str, _Cached] = {}

    def _keeps(self) -> bool:
        return self._storage() != "fake"

    def get(self, key: str) -> Any:
        """The value, or None when missing or expired (PHP: an empty string)."""
        entry = self._entries.get(key)
        if entry is None or not self._keeps():
            return None
        if (self._clock.now() - entry.stored).total_seconds() >= entry.ttl:
            del self._entries[key]
            return None
        return copy.deepcopy(entry.value)

    def set(self, key: str, value: Any, ttl: float) -> None:
        if self._keeps():
            self._entries[key] = _Cached(copy.deepcopy(value), self._clock.now(), ttl)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def get_callback(self, key: str, load: Callable[[], Any], ttl: float) -> Any:
        """getCallback(): the cached value, else (missing, expired or empty) load and store."""
        value = self.get(key)
        if not value:
            value = load()
            self.set(key, value, ttl)
        return value

    def live_keys(self) -> frozenset[str]:
        """Keys holding a live value now."""
        return frozenset(key for key in list(self._entries) if self.get(key) is not None)

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class Fault:
    """A misbehaviour for matching requests: `when` lists query values that must match.

    `drop` carries the request out, then closes the connection without an answer; `status`
    answers that HTTP status; `body` answers that text instead of the real answer; `delay`
    holds the answer back (the request has already been carried out, as PHP would have
    done); `release` holds it back until the test sets that event (or the fake closes), so a
    test can act while a request is in flight; `before` changes the state just before the
    request is carried out (e.g. a user vanishing between two requests). `times` None means
    every time.
    """

    delay: float = 0.0
    release: asyncio.Event | None = None
    status: int | None = None
    drop: bool = False
    body: str | None = None
    before: Callable[[FakeUbilling], object] | None = None
    when: Mapping[str, str] = field(default_factory=dict)
    times: int | None = None

    def matches(self, query: Mapping[str, str]) -> bool:
        return all(query.get(k) == v for k, v in self.when.items())


@dataclass(frozen=True)
class Answer:
    body: str
    json: bool = False


@dataclass(frozen=True)
class _Periodic:
    """A periodic action that checks an alter.ini switch, then a StarDust lock, then dies
    with its word (modules/remoteapi/<action>.php)."""

    ok: str
    switch: str | None = None
    off: str = ""
    lock: str | None = None
    busy: str = ""


PERIODIC: dict[str, _Periodic] = {
    "swping": _Periodic("OK:SWPING", lock="SWPING", busy="SKIP:SWPING_ALREADY_RUNNING"),
    "fastping": _Periodic("OK:FASTPING", "fastping_enabled", "ERROR:FASTPING_DISABLED"),
    "watchdog": _Periodic("OK:WATCHDOG", "watchdog_enabled", "ERROR:NO_WATCHDOG_ENABLED"),
    "senddog": _Periodic(
        "OK:SENDDOG SMS `0` TLG `0` EML `0`",
        "senddog_enabled",
        "ERROR:SENDDOG_DISABLED",
        "SENDDOG",
        "WARNING:SENDDOG_ALREADY_RUNING",
    ),
    "dealwithit": _Periodic("OK:DEALWITHIT", "dealwithit_enabled", "ERROR:DEALWITHIT DISABLED"),
    "exhorse": _Periodic(
        "OK:EXHORSE", "exhorse_enabled", "ERROR:EXHORSE_DISABLED", "EXHORSE",
        "SKIP:EXHORSE_ALREADY_RUNNING",
    ),
    "nasmon": _Periodic(
        "OK: NASMON", "nasmon_enabled", "ERROR: NASMON DISABLED", "NASMON",
        "SKIP:NASMON_ALREADY_RUNNING",
    ),
    "mtsigmonpoll": _Periodic("OK:MTPOLL", "mtsigmon_enabled", "ERROR:MTSIGMON_DISABLED"),
    "fdbarchive": _Periodic("OK:FDBARCHIVE"),
    "oltpoll": _Periodic(
        "OK:OLTPOLL", "pon_enabled", "ERROR:PON_DISABLED", "ONUSIGCOMPRESSOR", "SKIPPED:OLTPOLL"
    ),
    "multigen": _Periodic(
        "OK: MULTIGEN", "multigen_enabled", "ERROR: MULTIGEN DISABLED", "MULTIGEN",
        "SKIP: MULTIGEN ALREADY RUNNING",
    ),
    "feesharvester": _Periodic(
        "OK: FEES HARVESTED `0`", "fees_harvester", "ERROR:FEES_HARVESTER_DISABLED",
        "FEESHARVESTER", "WARNING:FEES_HARVESTER_ALREADY_RUNING",
    ),
    "whydoyoucall": _Periodic("TELEPONY:FETCHED\nOK: WDYC", "wdyc_enabled", "ERROR: WDYC DISABLED"),
}  # fmt: skip


# ------------------------------------------------------------------ the fake


class FakeUbilling:
    def __init__(self, *, clock: Clock | None = None, serial: str | None = SERIAL) -> None:
        self.clock = clock or Clock("Europe/Kyiv")
        self.serial = serial
        self.state = UbillingState.default()
        self.config = Config()
        self.cache = UbillingCache(self.clock, lambda: self.config.cache_storage)
        self.stargazer_running = True
        self.faults: list[Fault] = []
        self.requests: list[str] = []  # raw query strings, in arrival order
        self.in_flight = 0
        self.max_in_flight = 0  # most requests being handled at once
        self._runner: web.AppRunner | None = None
        self._url = ""
        self._closing = asyncio.Event()

    # -------------------------------------------------------------- control

    def reset(self) -> None:
        """Clean test data, default switches, empty caches, Stargazer running, no faults."""
        self.state = UbillingState.default()
        self.config = Config()
        self.cache.clear()
        self.stargazer_running = True
        self.faults.clear()

    def stop_stargazer(self) -> None:
        self.stargazer_running = False

    def start_stargazer(self) -> None:
        self.stargazer_running = True

    def add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def calls_for(self, login: str) -> list[CallRecord]:
        return [c for c in self.state.callshist if c.login == login]

    def remember_number(self, number: str, login: str) -> None:
        """What PBXMonitor leaves in PHONETELEPATHY (number as asked -> login), for a day."""
        known = self.cache.get("PHONETELEPATHY") or {}
        known[number] = login
        self.cache.set("PHONETELEPATHY", known, PHONE_CACHE_TIME)

    def clean_user_cache(self) -> None:
        """zb_UserGetAllDataCacheClean(), which Ubilling's profile edits (name, address,
        phone, email…) call: USER_ALL_DATA is dropped, nothing else."""
        self.cache.delete("USER_ALL_DATA")

    @property
    def url(self) -> str:
        if not self._url:
            raise RuntimeError("FakeUbilling is not started")
        return self._url

    async def start(self) -> str:
        self._closing.clear()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}/"
        return self._url

    async def close(self) -> None:
        self._closing.set()  # answers held back by a fault's delay go out now
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUbilling:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -------------------------------------------------------------- HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.rel_url.raw_query_string)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        query = php_get(request.rel_url)
        fault = self._take_fault(query)
        if fault is not None and fault.before is not None:
            fault.before(self)
        if fault is not None and fault.drop:  # carried out, then the connection is lost
            self.respond(query)
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        if fault is not None and fault.status is not None:
            await self._hold(fault.delay)
            return web.Response(
                status=fault.status,
                body=f"<html><body>{fault.status}</body></html>".encode(),
                headers={"Content-Type": HTML_TYPE},
            )
        answer = Answer(fault.body) if fault is not None and fault.body is not None else None
        answer = answer or self.respond(query)
        if fault is not None and fault.delay:
            await self._hold(fault.delay)
        if fault is not None and fault.release is not None:
            await self._hold_until(fault.release)
        headers = {"Content-Type": JSON_TYPE if answer.json else HTML_TYPE}
        if answer.json:
            headers |= {
                "Access-Control-Allow-Origin": "*",
                "Cache-Control": "no-store, no-cache, must-revalidate",
                "Pragma": "no-cache",
            }
        return web.Response(status=200, body=answer.body.encode(), headers=headers)

    async def _hold(self, delay: float) -> None:
        """A fault's delay, cut short when the fake closes (its server would wait for it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay)

    async def _hold_until(self, release: asyncio.Event) -> None:
        """Hold an answer until the test releases it, or the fake closes."""
        closing = asyncio.ensure_future(self._closing.wait())
        released = asyncio.ensure_future(release.wait())
        try:
            await asyncio.wait({closing, released}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            released.cancel()

    def _take_fault(self, query: Mapping[str, str]) -> Fault | None:
        for fault in self.faults:
            if fault.matches(query):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    # -------------------------------------------------------------- the envelope

    def respond(self, q: Mapping[str, str]) -> Answer:
        """index.php, then modules/general/remoteapi/index.php, then each action's file."""
        if not self.stargazer_running and not self.config.nostgcheckpid:
            return Answer(STARGAZER_DOWN)
        if q.get("module") != "remoteapi":
            return Answer(LOGIN_PAGE)
        if not self.config.remoteapi_enabled:
            return Answer("ERROR:API_DISABLED")
        if "key" not in q:
            if "action" not in q:
                return Answer("ERROR:GET_NO_KEY")
            if q["action"] == "identify":
                if self.serial is None:  # zb_InstallBillingSerial
                    self.serial = "UB" + secrets.token_hex(16)
                return Answer(self.serial[-4:])
            return Answer(LOGIN_PAGE)
        if self.serial is None:
            return Answer("ERROR:NO_UBSERIAL_EXISTS")
        if vf(q["key"]) != self.serial:
            return Answer("ERROR:GET_WRONG_KEY")
        if "action" not in q:
            return Answer("ERROR:GET_NO_ACTION")
        handlers: dict[str, Callable[[Mapping[str, str]], Answer]] = {
            "asterisk": self._asterisk,
            "telepony": self._telepony,
            "userbynum": self._userbynum,
            "callmeback": self._callmeback,
            "cachedog": self._cachedog,
            **self._periodic_handlers(),
        }
        handler = handlers.get(q["action"])
        if handler is None or q["action"] in self.config.disabled_calls:
            return Answer(LOGIN_PAGE)  # no handler died: the web UI renders
        return handler(q)

    # -------------------------------------------------------------- time

    def _now(self) -> datetime:
        return self.clock.now().astimezone(self.clock.tz)

    def _curdatetime(self) -> str:
        return self._now().strftime("%Y-%m-%d %H:%M:%S")

    def _local_date(self, stamp: int) -> str:
        return datetime.fromtimestamp(stamp, tz=UTC).astimezone(self.clock.tz).date().isoformat()

    def _midnight(self, day: date) -> int:
        return int(datetime.combine(day, time(0), tzinfo=self.clock.tz).timestamp())

    # -------------------------------------------------------------- Stargazer (sgconf_xml)

    def _sgconf(self, login: str, change: Callable[[User], None]) -> None:
        """With Stargazer stopped, or a user it does not know, sgconf changes nothing."""
        user = self.state.users.get(login)
        if self.stargazer_running and user is not None:
            change(user)

    # -------------------------------------------------------------- number matching

    def _phone_lists(
        self, cached: bool
    ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
        """Telepathy::usePhones(): (login, phone, mobile) rows and (ext mobile, login) pairs,
        from PHONEDATA / EXTMOBILES (a day) when `cached`, else from the tables."""

        def phones() -> list[tuple[str, str, str]]:
            return [(r.login, r.phone, r.mobile) for r in self.state.phones]

        def ext() -> list[tuple[str, str]]:
            return [(e.mobile, e.login) for e in self.state.mobileext]

        if not cached:
            return phones(), ext() if self.config.mobiles_ext else []
        rows = self.cache.get_callback("PHONEDATA", phones, PHONE_CACHE_TIME)
        extra = (
            self.cache.get_callback("EXTMOBILES", ext, PHONE_CACHE_TIME)
            if self.config.mobiles_ext
            else []
        )
        return rows, extra

    def _telepathy(self, number: str, *, cached_phones: bool = True) -> str:
        """(A) Telepathy::getByPhone(…, onlyMobile, normalize): digits, +380 form, substring,
        last match wins; against the cached phone lists unless `cached_phones` is off."""
        digits = vf(number, 3)
        pad = {12: "", 11: "3", 10: "38", 9: "380"}
        if len(digits) not in pad:
            return ""
        caller = "+" + pad[len(digits)] + digits
        rows, extra = self._phone_lists(cached_phones)
        candidates: dict[str, str] = {}
        for login, phone, mobile in rows:
            for stored in (mobile, phone):
                clean = vf(stored, 3)
                if not php_empty(clean):
                    candidates[clean] = login
        for mobile, login in extra:
            candidates[vf(mobile, 3)] = login
        found = ""
        for stored, login in candidates.items():
            if stored in caller:
                found = login
        return found

    def _last10(self) -> tuple[dict[str, str], dict[str, str]]:
        """(B) AsteriskGetLoginByNumberQuery: raw stored strings keyed by their last 10
        characters (last one wins), and the suffixes owned by exactly one login."""
        owner: dict[str, str] = {}
        owners: dict[str, list[str]] = {}
        values = [(r.login, v) for r in self.state.phones for v in (r.phone, r.mobile)]
        if self.config.mobiles_ext:
            values += [(e.login, e.mobile) for e in self.state.mobileext]
        for login, value in values:
            owner[value[-10:]] = login
            if value:
                owners.setdefault(value[-10:], []).append(login)
        unique = {k: v[0] for k, v in owners.items() if len(set(v)) == 1}
        return owner, unique

    def _logins_by_mobile(self, number: str) -> list[str]:
        """(C) getLoginsByMobile: SQL LIKE '%number%' over phones.mobile and mobileext."""
        if "'" in number:
            return []  # the query breaks; mysqli_report(0) hides it
        pattern = f"%{number}%"
        logins = [r.login for r in self.state.phones if like(pattern, r.mobile)]
        return logins + [e.login for e in self.state.mobileext if like(pattern, e.mobile)]

    # -------------------------------------------------------------- PBXNum

    def _pbx_user_data(self) -> dict[str, dict[str, Any]]:
        """PBXNum's query: every users row's login, Cash, Credit, Passive, Down,
        AlwaysOnline and its tariff's Fee (None without one), keyed by login."""
        data: dict[str, dict[str, Any]] = {}
        for user in self.state.users.values():
            tariff = self.state.tariffs.get(user.tariff)
            data[user.login] = {
                "Cash": user.cash,
                "Credit": user.credit,
                "Passive": user.passive,
                "Down": user.down,
                "AlwaysOnline": user.always_online,
                "Fee": tariff.fee if tariff else None,
            }
        return data

    def _pbx_reply(self, number: str, getmoney: bool, ignore_cache: bool = False) -> str:
        """PBXNum::getReply: the login by (A) on the cached phone lists, then the users data
        from PBXUSERDATA (an hour), reloaded (and stored) when empty or with ignorecache."""
        login = self._telepathy(number)
        reply = plain = "0"
        row: dict[str, Any] | None = None
        if login:
            data = self.cache.get("PBXUSERDATA")
            if not data or ignore_cache:
                data = self._pbx_user_data()
                self.cache.set("PBXUSERDATA", data, PBXUSERDATA_TIME)
            row = data.get(login)
        if row is not None:
            reply = "1" if row["Cash"] >= -row["Credit"] else "2"
            if row["Passive"] == 1 or row["Down"] == 1 or row["AlwaysOnline"] == 0:
                reply = "3"
            plain = reply
            if getmoney:
                fee = float(row["Fee"]) if row["Fee"] is not None else 0.0
                blob = php_serialize([reply, round(float(row["Cash"]), 2), round(fee, 2)])
                reply = base64.b64encode(blob.encode()).decode()
        now = self._curdatetime()
        self.state.incallsnum_log.append(f"{now} NUMBER: {number} REPLY: {plain} LOGIN: {login}")
        self.state.callshist.append(
            CallRecord(len(self.state.callshist) + 1, now, number.strip(), login.strip())
        )
        return reply

    # -------------------------------------------------------------- action=telepony, userbynum

    def _telepony(self, q: Mapping[str, str]) -> Answer:
        if not self.config.telepony_enabled:
            return Answer("ERROR: TELEPONY DISABLED")
        if php_empty(q.get("number")):
            return Answer("ERROR: EMPTY NUMBER")
        return Answer(self._pbx_reply(q["number"], getmoney=False))

    def _callmeback(self, q: Mapping[str, str]) -> Answer:
        """modules/remoteapi/callmeback.php + CallMeBack::createCall: digits only; a row only
        when some are left, but `OK:CALLMEBACK` either way."""
        if not self.config.callmeback_enabled:
            return Answer("ERROR:CALLMEBACK_DISABLED")
        if php_empty(q.get("param")):  # ubRouting::checkGet: missing or empty()
            return Answer("ERROR:EMPTY_PARAM")
        digits = vf(q["param"], 3)
        if digits:
            rows = self.state.callmeback
            rows.append(CallMeBackRow(len(rows) + 1, self._curdatetime(), digits))
        return Answer("OK:CALLMEBACK")

    def _userbynum(self, q: Mapping[str, str]) -> Answer:
        if not self.config.userbynum_enabled:
            return Answer("ERROR: USERBYNUM DISABLED")
        if php_empty(q.get("number")):
            return Answer("ERROR: EMPTY NUMBER")
        number = q["number"]
        use_cache = php_empty(q.get("nocache"))  # `(get('nocache')) ? false : true`
        known = self.cache.get("PHONETELEPATHY") or {}  # getByPhoneFast: asked before
        login = (
            known[number] if number in known else self._telepathy(number, cached_phones=use_cache)
        )
        result: dict[str, Any] = {"result": 0}
        everyone = self._all_user_data()  # a day old, whatever nocache says
        if login and login in everyone:
            result = {"result": 1, "userdata": everyone[login]}
        return Answer(php_json(result), json=True)

    def _all_user_data(self) -> dict[str, dict[str, Any]]:
        """zb_UserGetAllDataCache(): USER_ALL_DATA, kept a day."""
        return dict(
            self.cache.get_callback("USER_ALL_DATA", self._all_user_data_now, USER_ALL_DATA_TIME)
        )

    def _all_user_data_now(self) -> dict[str, dict[str, Any]]:
        """zb_UserGetAllData(): every user's row, read now."""
        return {login: self._user_cache_row(user) for login, user in self.state.users.items()}

    def _cachedog(self, q: Mapping[str, str]) -> Answer:
        """modules/remoteapi/cachedog.php: drop the caches when the users data changed."""
        if self._all_user_data() == self._all_user_data_now():
            return Answer("CACHEDOG:CACHE_OK")
        self.cache.delete("USER_ALL_DATA")
        if self.config.userbynum_enabled:
            for key in ("PHONEDATA", "EXTMOBILES", "PHONETELEPATHY"):
                self.cache.delete(key)
        return Answer("CACHEDOG:CACHE_CLEANED")

    # -------------------------------------------------------------- the periodic actions

    def _periodic_handlers(self) -> dict[str, Callable[[Mapping[str, str]], Answer]]:
        """modules/remoteapi/<action>.php of the actions Ubilling's crontab calls: each
        checks its alter.ini switch, then its StarDust lock, does its work and dies with
        its word. Every call is kept in `state.periodic` (the key left out)."""
        handlers: dict[str, Callable[[Mapping[str, str]], Answer]] = {
            name: self._simple(spec) for name, spec in PERIODIC.items()
        }
        handlers |= {
            "cachedog": self._cachedog,
            "vserviceschargefee": self._vserviceschargefee,
            "fullhostscan": self._fullhostscan,
            "swpoll": self._swpoll,
            "backupdb": self._backupdb,
            "autocleandb": self._autocleandb,
            "rebuildglscache": self._rebuildglscache,
            "whydoyoucallstats": self._whydoyoucallstats,
            "callshistusrupd": self._callshistusrupd,
        }
        return {name: self._recorded(name, handler) for name, handler in handlers.items()}

    def _recorded(
        self, name: str, handler: Callable[[Mapping[str, str]], Answer]
    ) -> Callable[[Mapping[str, str]], Answer]:
        def answer(q: Mapping[str, str]) -> Answer:
            result = handler(q)
            params = {k: v for k, v in q.items() if k not in {"key", "module", "action"}}
            self.state.periodic.append((name, params, result.body))
            return result

        return answer

    def ran(self, action: str) -> int:
        """How many times `action` was asked for."""
        return sum(1 for name, _, _ in self.state.periodic if name == action)

    def _simple(self, spec: _Periodic) -> Callable[[Mapping[str, str]], Answer]:
        def answer(q: Mapping[str, str]) -> Answer:
            if spec.switch is not None and not getattr(self.config, spec.switch):
                return Answer(spec.off)
            if spec.lock is not None and spec.lock in self.state.running:
                return Answer(spec.busy)
            return Answer(spec.ok)

        return answer

    def _vserviceschargefee(self, q: Mapping[str, str]) -> Answer:
        """zb_VservicesProcessAll: each user's virtual services charged through Stargazer
        (`param=nofrozen`: not the frozen; `period=30_7`: only services of those periods),
        each charge a payment row."""
        charge_frozen = q.get("param") != "nofrozen"
        periods = set(q["period"].split("_")) if "period" in q else None
        for login, services in self.state.vservices.items():
            user = self.state.users.get(login)
            if user is None or (user.passive and not charge_frozen):
                continue
            for name, price, period in services:
                if periods is not None and period not in periods:
                    continue
                if user.cash <= 0:
                    continue
                self._charge_vservice(user, name, price)
        return Answer("OK:SERVICE_CHARGE_FEE")

    def _charge_vservice(self, user: User, name: str, price: Decimal) -> None:
        before = user.cash

        def charge(u: User) -> None:
            u.cash -= price

        self._sgconf(user.login, charge)
        self.state.payments.append(
            Payment(user.login, self._curdatetime(), "external", before, -price, "1", name)
        )

    def _fullhostscan(self, q: Mapping[str, str]) -> Answer:
        lines = []
        if "nn" not in q:  # nmap over every network, one line each
            lines = [f"{net} :{self._curdatetime()}:SCANNED" for net in self.state.networks]
        if self.config.dn_fullhostscan and not self.state.dn_folder:
            return Answer("\n".join([*lines, "FAIL:NO_CONTENT_DN_EXISTS"]))
        return Answer("\n".join([*lines, "OK:FULLHOSTSCAN"]))

    def _swpoll(self, q: Mapping[str, str]) -> Answer:
        if not self.state.switches:
            return Answer("ERROR:SWPOLL_NODEVICES")
        if "SWPOLL_ALL" in self.state.running:
            return Answer("SKIP:SWPOLL_ALREADY_RUNNING")
        now = self._curdatetime()
        lines = []
        for ip in self.state.switches:
            state = "[SKIP] SWITCH DEAD" if ip in self.state.dead_switches else "[OK]"
            lines.append(f"{now} {ip} {state}")
        return Answer("\n".join(lines) + "\nOK:SWPOLL")

    def _backupdb(self, q: Mapping[str, str]) -> Answer:
        if not self.config.mysqldump_path:
            return Answer("You missed an important option: MYSQLDUMP_PATH")
        stamp = self._now().strftime("%Y-%m-%d_%H_%M_%S")
        return Answer(f"OK:BACKUPDB content/backups/sql/ubilling-{stamp}.sql")

    def _autocleandb(self, q: Mapping[str, str]) -> Answer:
        cleaned = len(self.state.weblogs)
        self.state.weblogs.clear()
        return Answer(f"OK:AUTOCLEANDB {cleaned}")

    def _rebuildglscache(self, q: Mapping[str, str]) -> Answer:
        if self.config.sphinx_search_enabled:
            return Answer("SKIPPED:SPHINX_SEARCH_ENABLED")
        if "GLSREBUILD" in self.state.running:
            return Answer("SKIPPED:ALREADY_RUNNING")
        return Answer("OK:REBUILDGLSCACHE")

    def _whydoyoucallstats(self, q: Mapping[str, str]) -> Answer:
        if not self.config.wdyc_enabled:
            return Answer("ERROR: WDYC DISABLED")
        self.state.wdycinfo.append(self._now().date().isoformat())
        return Answer("OK: WDYCSTATS")

    def _callshistusrupd(self, q: Mapping[str, str]) -> Answer:
        """CallsHistory::updateUnknownLogins: each call without a login gets the one
        Telepathy finds for its number now (a subscriber added after the call)."""
        if not self.config.callshist_enabled:
            return Answer("ERROR:CALLSHIST_DISABLED")
        if "CALLSHIST_UPD" in self.state.running:
            return Answer("ERROR:CALLSHIST_ALREADY_RUNS")
        guessed = missed = 0
        for call in self.state.callshist:
            if call.login:
                continue
            login = self._telepathy(call.number)
            if login:
                call.login = login
                guessed += 1
            else:
                missed += 1
        return Answer(f"GUESSED:{guessed} MISSED:{missed} OK:CALLSHIST_USERS_UPDATE")

    def _phone_row(self, login: str) -> PhoneRow | None:
        return next((r for r in self.state.phones if r.login == login), None)

    def _user_cache_row(self, user: User) -> dict[str, Any]:
        """zb_UserGetAllDataCache(): the users row joined with realname, IP, address, phones."""
        phones = self._phone_row(user.login)
        return {
            "login": user.login,
            "realname": user.realname,
            "Passive": str(user.passive),
            "Down": str(user.down),
            "Password": user.password,
            "AlwaysOnline": str(user.always_online),
            "Tariff": user.tariff,
            "TariffChange": "",
            "Credit": mysql_number(user.credit),
            "Cash": mysql_number(user.cash),
            "ip": user.ip,
            "mac": None,
            "cityname": None,
            "streetname": None,
            "buildnum": None,
            "entrance": None,
            "floor": None,
            "apt": None,
            "geo": None,
            "fulladress": None,
            "phone": phones.phone if phones else None,
            "mobile": phones.mobile if phones else None,
            "contract": user.contract,
            "email": None,
        }

    # -------------------------------------------------------------- action=asterisk

    def _asterisk(self, q: Mapping[str, str]) -> Answer:
        if not self.config.asterisk_enabled:
            return Answer("ERROR: ASTERISK DISABLED")
        if php_empty(q.get("number")) and php_empty(q.get("login")):
            return Answer("ERROR: NOT HAVE NUMBER")
        if php_empty(q.get("param")):
            return Answer("ERROR: NOT HAVE PARAMETR")

        def opt(name: str, default: str) -> str:
            return default if php_empty(q.get(name)) else q[name]

        login = opt("login", "")
        number = q.get("number", "").strip(" \t\n\r\0\x0b")
        param = q["param"]
        user = self.state.users.get(login) if login else None
        if param == "swstatus":
            return Answer(self._info_api(number, param))
        if param == "setcredit":
            return Answer(self._setcredit(user, login, opt("money", "0"), opt("expiredays", "0")))
        if param == "paycardpay":
            return Answer(
                self._paycardpay(user, login, opt("paycardnum", ""), opt("paycardcashtype", "1"))
            )
        if param == "setpause":
            return Answer(self._setpause(user, login))
        if param == "setunpause":
            return Answer(self._setunpause(user, login, number))
        ignore_cache = not php_empty(q.get("ignorecache"))
        if param == "userstatus":
            getmoney = not php_empty(q.get("getmoney"))
            return Answer(self._pbx_reply(number, getmoney=getmoney, ignore_cache=ignore_cache))
        if param == "getuserdatabylogin":
            return Answer(self._user_data([login], password=opt("userpass", ""), single=True))
        if param == "getuserdatabymobile":
            return Answer(self._user_data(self._logins_by_mobile(number)))
        if param == "getcontractsbymobile":
            contracts = [self._contract(x) for x in self._logins_by_mobile(number)]
            return Answer(php_json(contracts))
        if param == "addusermobile":
            return Answer(self._add_mobile(login, number, opt("maxmobilesamnt", "0")))
        if param in {
            "getonlinedaysleft",
            "getvservicescount",
            "getuserspends",
            "getcontragentdata",
        }:
            if not login and number:
                logins = self._logins_by_mobile(number)
                login = logins[0] if logins else ""
            vsrv = not php_empty(q.get("includevsrvs")) or self.config.fundsflow_consider_vservices
            return Answer(self._funds(param, login, vsrv))
        # default branch: the call is logged like userstatus, then answered by (B)
        getmoney = not php_empty(q.get("getmoney"))
        self._pbx_reply(number, getmoney=getmoney, ignore_cache=ignore_cache)
        return Answer(self._info_api(number, param))

    def _info_api(self, number: str, param: str) -> str:
        owner, unique = self._last10()
        cut = number[-10:]
        login = owner.get(cut, "")
        if php_empty(login):
            return "ERROR: NOT OUR USER"
        if param == "login":
            return login
        if param == "loginuniq":
            return unique.get(cut, "ERROR: USER HAVE MANY LOGINS")
        if param == "swstatus":
            ip = self.state.switch_ports.get(login)
            if ip is None:
                return "ERROR: USER NOT HAVE SWITCH"
            return "DIE" if ip in self.state.dead_switches else "OK"
        if param == "realname":
            user = self.state.users.get(login)
            return f"{login}-{realname_translit(user.realname if user else '')}"
        return "ERROR: MISTAKE PARAMETR"

    def _contract(self, login: str) -> str | None:
        user = self.state.users.get(login)
        return user.contract if user else None

    def _user_data(self, logins: list[str], *, password: str = "", single: bool = False) -> str:
        """Asterisk::getUserData(): JSON keyed by login, Password included, as Ubilling does.

        The records are read from the tables; only the `userpass` check reads the cached
        users data (USER_ALL_DATA), so a password changed today may still be the old one.
        """
        if single and password:
            cached = self._all_user_data().get(logins[0])
            if cached is None or cached["Password"] != password:
                return php_json({"ERROR": "Auth failed"})
        wanted = {x.lower() for x in logins}
        data: dict[str, Any] = {}
        for user in self.state.users.values():  # MySQL: table order, case-insensitive match
            if user.login.lower() not in wanted:
                continue
            tariff = self.state.tariffs.get(user.tariff)
            phones = self._phone_row(user.login)
            record: dict[str, Any] = {
                "login": user.login,
                "Password": user.password,
                "Cash": mysql_number(user.cash),
                "Credit": mysql_number(user.credit),
                "CreditExpire": str(user.credit_expire),
                "Passive": str(user.passive),
                "Down": str(user.down),
                "AlwaysOnline": str(user.always_online),
                "Tariff": user.tariff,
                "Fee": mysql_number(tariff.fee) if tariff else None,
                "period": tariff.period if tariff else None,
                "contract": user.contract,
                "mobile": phones.mobile if phones else None,
                "agentid": None,
                "contrname": None,
            }
            if self.config.mobiles_ext:
                record["ext_mobiles"] = [
                    e.mobile for e in self.state.mobileext if e.login == user.login
                ]
            data[user.login] = record
        return php_json(data if data else [])

    def _add_mobile(self, login: str, mobile: str, most: str) -> str:
        row = self._phone_row(login)
        if row is not None:
            extra = [e.mobile for e in self.state.mobileext if e.login == login]
            if php_loose_eq(row.mobile, mobile) or any(php_loose_eq(m, mobile) for m in extra):
                return php_json({"ERROR": "Such mobile already exists for this user"})
            if not php_empty(most):
                count = (0 if php_empty(row.mobile) else 1) + len(extra)
                if count >= php_number(most):
                    return php_json({"ERROR": "Max mobiles count threshold reached"})
            if php_empty(row.mobile):
                row.mobile = mobile
            else:
                next_id = max((e.id for e in self.state.mobileext), default=0) + 1
                self.state.mobileext.append(ExtMobile(next_id, login, mobile, "Added by Asterisk"))
        else:
            self.state.phones.append(PhoneRow(login, "", mobile))
        return php_json({"SUCCES": "Mobile added"})

    # -------------------------------------------------------------- money rules

    def _log(self, text: str) -> None:
        self.state.weblogs.append(f"{self._curdatetime()} {text}")

    def _setcredit(self, user: User | None, login: str, money_text: str, days_text: str) -> str:
        if user is None:
            self._log("ASTERISK CREDIT NOT SET: EMPTY USERDATA")
            return "ASTERISK CREDIT NOT SET: EMPTY USERDATA"
        if not user.cash < 0:
            self._log(f"ASTERISK CREDIT NOT SET ({login}): CASH > 0 OR NOT SET")
            return "ASTERISK CREDIT NOT SET: CASH > 0 OR NOT SET"
        if self.config.sc_check_enabled:
            refusal = self._sc_check(user)
            if refusal:
                self._log(f"ASTERISK CREDIT GET TRY ({login}): {refusal}")
                return f"ASTERISK CREDIT NOT AVAILABLE: {refusal}"
        money = php_number(money_text)
        if not user.cash > -money:
            self._log(f"ASTERISK CREDIT TRY ({login}): BALANCE LOWER THAN CREDIT LIMIT")
            return "ASTERISK CREDIT NOT AVAILABLE: BALANCE LOWER THAN CREDIT LIMIT"
        today = self._now().date()
        if today.isoformat() < self._local_date(user.credit_expire):
            self._log(f"ASTERISK CREDIT GET TRY ({login}): CREDIT IS CURRENTLY ACTIVE")
            return "ASTERISK CREDIT NOT AVAILABLE: CREDIT IS CURRENTLY ACTIVE"

        def set_credit(u: User) -> None:
            u.credit = money

        self._sgconf(login, set_credit)
        self._log(f"ASTERISK CHANGE Credit ({login}) ON {money_text}")
        expire = (self._now() + timedelta(days=int(php_number(days_text)))).date()
        stamp = self._midnight(expire)

        def set_expire(u: User) -> None:
            u.credit_expire = stamp

        self._sgconf(login, set_expire)
        if self.config.sc_check_enabled:
            self.state.zbssclog.append((self._curdatetime(), login))
        self._log(f"ASTERISK CHANGE CreditExpire ({login}) ON {expire.isoformat()}")
        return "ASTERISK CREDIT SET SUCCESSFULY"

    def _sc_check(self, user: User) -> str:
        """ASTERISK_SC_CHECK_ENABLED: zb_CreditLogCheckHack, …CheckMonth, CreditCheckAllowed."""
        paid = [p for p in self.state.payments if p.login == user.login and (
            p.summ > 0 or p.note == "SCFEE")]  # fmt: skip
        if paid and max(paid, key=lambda p: p.date).note == "SCFEE":
            return "NOT PAYED PREVIOUSLY"
        month = self._now().strftime("%Y-%m")
        if any(lg == user.login and when.startswith(month) for when, lg in self.state.zbssclog):
            return "ALREADY TOOK"
        allowed = [t for t in self.config.sc_tariffs_allowed.split(",") if t]
        if allowed and user.tariff not in allowed:
            return "NOT ALLOWED FOR TARIFF"
        return ""

    def _paycardpay(self, user: User | None, login: str, number: str, cashtype: str) -> str:
        if php_empty(number):
            self._log("ASTERISK PAYCARD NUMBER IS EMPTY")
            return "ASTERISK PAYCARD NUMBER IS EMPTY"
        if user is None:
            self._log("ASTERISK PAYCARD PAYMENT UNSUCCESSFUL: EMPTY USERDATA")
            return "ASTERISK PAYCARD PAYMENT UNSUCCESSFUL: EMPTY USERDATA"
        now = self._curdatetime()
        serial = vf(number)
        card = self.state.cards.get(serial)
        if card is None or card.active != 1 or card.used != 0 or card.usedlogin != "":
            self.state.cardbrute.append(CardBrute(serial, now, login, user.ip))
            self._log("ASTERISK PAYCARD NOT EXISTS")
            return "ASTERISK PAYCARD NOT EXISTS"
        card.usedlogin, card.usedip, card.usedate, card.used = login, user.ip, now, 1

        def add_cash(u: User) -> None:
            u.cash += card.cash

        self._sgconf(login, add_cash)
        self.state.payments.append(
            Payment(login, now, "external", user.cash, card.cash, vf(cashtype), f"CARD:{serial}")
        )
        self._log("ASTERISK PAYCARD PAYMENT SUCCESSFUL")
        return "ASTERISK PAYCARD PAYMENT SUCCESSFUL"

    def _setpause(self, user: User | None, login: str) -> str:
        """case 'setpause': `$userdata['Passive']` of an unknown login is null, so an
        unknown (or missing) login is paused "successfully" and nothing changes."""
        if user is not None and user.passive:
            self._log("ASTERISK SET PAUSE UNSUCCESSFUL: PAUSE IS CURRENTLY ACTIVE")
            return "ASTERISK SET PAUSE UNSUCCESSFUL: PAUSE IS CURRENTLY ACTIVE"
        if self.config.freeze_days_charge_enabled:
            days = self.state.frozen_charge_days.get(login)
            if days is not None and days.used >= days.amount:
                self._log("ASTERISK SET PAUSE UNSUCCESSFUL: NO AVAILABLE FREEZE DAYS LEFT")
                return "ASTERISK SET PAUSE UNSUCCESSFUL: NO AVAILABLE FREEZE DAYS LEFT"

        def pause(u: User) -> None:
            u.passive = 1

        self._sgconf(login, pause)
        self._log(f"ASTERISK SET PAUSE SUCCESSFUL FOR  {login}")
        return f"ASTERISK SET PAUSE SUCCESSFUL FOR  {login}"

    def _setunpause(self, user: User | None, login: str, number: str) -> str:
        """case 'setunpause': the number is only echoed; Passive read from the users row
        (null for an unknown login: "not active")."""
        if user is not None and user.passive:

            def unpause(u: User) -> None:
                u.passive = 0

            self._sgconf(login, unpause)
            text = f"ASTERISK UNPAUSE SUCCESSFUL FOR  {login} FROM MOBILE: {number}"
        else:
            text = (
                f"ASTERISK UNPAUSE UNSUCCESSFUL FOR  {login} FROM MOBILE: {number}: "
                "PAUSE IS NOT ACTIVE"
            )
        self._log(text)
        return text

    # -------------------------------------------------------------- FundsFlow and friends

    def _funds(self, param: str, login: str, include_vservices: bool) -> str:
        services = self.state.vservices.get(login, [])
        if param == "getonlinedaysleft":
            return str(self._online_days_left(login, include_vservices))
        if param == "getcontragentdata":
            return "[]"  # no contragent assigned in the test data
        if param == "getvservicescount":
            return str(len(services))
        user = self.state.users.get(login)
        spends: dict[str, Any] = {}
        tariff = self.state.tariffs.get(user.tariff) if user else None
        if user is not None:
            spends[user.tariff] = {
                "price": mysql_number(tariff.fee) if tariff else None,
                "daysperiod": tariff.period if tariff else None,
            }
        for name, price, period in services:
            spends[name] = {"price": mysql_number(price), "daysperiod": period}
        return php_json(spends if spends else [])

    def _online_days_left(self, login: str, include_vservices: bool) -> int:
        """FundsFlow::getOnlineLeftCountFast: >=0 days, -1 debt, -2 free tariff, 0 no data."""
        user = self.state.users.get(login)
        tariff = self.state.tariffs.get(user.tariff) if user else None
        if user is None or tariff is None:
            return 0
        fee = tariff.fee
        if include_vservices:
            fee += sum((price for _, price, _ in self.state.vservices.get(login, [])), Decimal(0))
        balance = user.cash
        if balance < 0:
            return -1
        if fee <= 0:
            return -2
        now, days = self._now(), 0

        def day(offset: int) -> date:
            return (now + timedelta(days=offset)).date()

        def month_days(d: date) -> int:
            return ((d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day

        while balance >= 0:
            if tariff.period != "month":
                days += 1
                balance -= fee
            elif self.config.spread_fee:
                days += 1
                balance -= fee / month_days(day(days))
            else:
                today = day(days)
                days += month_days(today) - today.day + 1
                balance -= fee
        return days


def php_get(url: URL) -> dict[str, str]:
    """$_GET: query parameters decoded (`+` is a space), the last of a repeated name wins."""
    return dict(url.query.items())
