"""The fake Ubilling beyond the recorded rows: its rules, not a table of answers.

Each case follows from the reference's description of Ubilling's code (§1.2.1 matching
algorithms, §6 quirks); none of these requests was part of the recording.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from decimal import Decimal

from primitives.clock import FixedClock
from tests.fakes.ubilling import (
    SERIAL,
    STARGAZER_DOWN,
    ExtMobile,
    FakeUbilling,
    PhoneRow,
    User,
    realname_translit,
)


def ask(fake: FakeUbilling, **params: str) -> str:
    return fake.respond({"module": "remoteapi", "key": SERIAL, **params}).body


def add_user(fake: FakeUbilling, login: str, mobile: str, cash: str = "5") -> None:
    fake.state.users[login] = User(
        login, "secret", Decimal(cash), "Test100", "Extra", "19999", "172.16.9.9"
    )
    fake.state.phones.append(PhoneRow(login, "", mobile))


def test_telepathy_matches_substrings_of_the_normalised_number(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    add_user(fake, "crimea", "9781234567")
    # an 11-digit foreign number becomes +379781234567, which contains the stored digits
    assert ask(fake, action="asterisk", number="79781234567", param="userstatus") == "1"
    # other lengths normalise to nothing and match no one
    assert ask(fake, action="asterisk", number="12345678", param="userstatus") == "0"


def test_telepathy_last_match_wins(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    add_user(fake, "later", "050-111-00-02")  # same digits as testuser2, loaded after it
    assert ask(fake, action="telepony", number="0501110002") == "1"  # later has Cash 5
    assert fake.state.callshist[-1].login == "later"
    # the last-10-characters match compares raw strings: the formatted one does not count
    assert ask(fake, action="asterisk", number="0501110002", param="login") == "testuser2"
    assert ask(fake, action="asterisk", number="0501110002", param="loginuniq") == "testuser2"


def test_last_ten_characters_ignore_formatted_numbers(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    add_user(fake, "formatted", "+38 (050) 111-00-07")
    assert ask(fake, action="asterisk", number="0501110007", param="userstatus") == "1"
    assert ask(fake, action="asterisk", number="0501110007", param="login") == (
        "ERROR: NOT OUR USER"
    )
    assert ask(fake, action="asterisk", number="0501110007", param="getuserdatabymobile") == "[]"


def test_loginuniq_refuses_a_shared_number(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    fake.state.mobileext.append(ExtMobile(1, "testuser3", "+380501110001", ""))
    assert ask(fake, action="asterisk", number="0501110001", param="login") == "testuser3"
    assert ask(fake, action="asterisk", number="0501110001", param="loginuniq") == (
        "ERROR: USER HAVE MANY LOGINS"
    )


def test_sql_like_needs_the_request_inside_the_stored_text(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    found = ask(fake, action="asterisk", number="380501110004", param="getcontractsbymobile")
    assert found == '["10004"]'  # stored +380501110004
    missed = ask(fake, action="asterisk", number="+380501110001", param="getcontractsbymobile")
    assert missed == "[]"  # stored 0501110001 does not contain it
    everyone = ask(fake, action="asterisk", number="05011100", param="getcontractsbymobile")
    assert everyone == '["10001","10002","10003","10004","10005"]'


def test_only_status_requests_and_the_default_branch_log_calls(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    ask(fake, action="asterisk", login="testuser1", param="getuserdatabylogin")
    ask(fake, action="asterisk", number="0501110001", param="getuserdatabymobile")
    ask(fake, action="userbynum", number="0501110001")
    ask(fake, action="asterisk", number="0501110001", param="swstatus")
    assert fake.state.callshist == []
    ask(fake, action="asterisk", number="0501110001", param="userstatus", getmoney="1")
    ask(fake, action="asterisk", number="0501110001", param="realname")
    ask(fake, action="asterisk", number="0509999999", param="loginuniq")
    assert [(c.date, c.number, c.login) for c in fake.state.callshist] == [
        ("2026-11-22 12:00:00", "0501110001", "testuser1"),
        ("2026-11-22 12:00:00", "0501110001", "testuser1"),
        ("2026-11-22 12:00:00", "0509999999", ""),
    ]
    assert fake.state.incallsnum_log[0] == (
        "2026-11-22 12:00:00 NUMBER: 0501110001 REPLY: 1 LOGIN: testuser1"
    )


def test_flags_set_to_zero_count_as_absent(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    assert ask(fake, action="asterisk", number="0501110001", param="userstatus", getmoney="0") == (
        "1"
    )
    assert ask(fake, action="asterisk", number="0", param="userstatus") == "ERROR: NOT HAVE NUMBER"


def test_realname_drops_ukrainian_letters() -> None:
    assert realname_translit("Петренко Іван Петрович") == "Petrenko van Petrovych"
    assert realname_translit("Їжак Євген Ґудзь-Щур") == "zhak vgen udzSchur"


def test_stargazer_check_and_stopped_stargazer(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    fake.stop_stargazer()
    assert ask(fake, action="asterisk", param="setunpause", login="testuser3",
               number="0501110003") == (
        "ASTERISK UNPAUSE SUCCESSFUL FOR  testuser3 FROM MOBILE: 0501110003"
    )  # fmt: skip
    assert fake.state.users["testuser3"].passive == 1  # sgconf did nothing
    fake.config.nostgcheckpid = False
    assert ask(fake, action="asterisk", number="0501110001", param="userstatus") == STARGAZER_DOWN
    fake.start_stargazer()
    assert ask(fake, action="asterisk", number="0501110001", param="userstatus") == "1"


def test_key_blacklist_filter(clock: FixedClock) -> None:
    """vf() strips characters like `-` and `+` from the key before comparing it."""
    fake = FakeUbilling(clock=clock)
    assert fake.respond({"module": "remoteapi", "key": SERIAL[:5] + "-" + SERIAL[5:]}).body == (
        "ERROR:GET_NO_ACTION"
    )


# ------------------------------------------------------------------ caches (reference §1.2-1.3)


def _money(fake: FakeUbilling, number: str, **extra: str) -> str:
    """userstatus&getmoney=1 decoded: `status cash fee`."""
    body = ask(fake, action="asterisk", number=number, param="userstatus", getmoney="1", **extra)
    if body == "0":
        return body
    value = base64.b64decode(body).decode()
    code, cash, fee = re.findall(r'i:\d;(?:s:1:"(\d)"|d:([^;]+));', value)
    return f"{code[0]} {cash[1]} {fee[1]}"


def test_userstatus_answers_from_the_hour_long_cache_unless_ignorecache(
    clock: FixedClock,
) -> None:
    fake = FakeUbilling(clock=clock)
    assert _money(fake, "0501110002") == "2 -50 100"
    fake.state.users["testuser2"].credit = Decimal(100)  # Stargazer: the credit landed
    assert _money(fake, "0501110002") == "2 -50 100"
    assert _money(fake, "0501110002", ignorecache="0") == "2 -50 100"  # PHP empty("0")
    assert ask(fake, action="telepony", number="0501110002", ignorecache="1") == "2"
    assert _money(fake, "0501110002", ignorecache="1") == "1 -50 100"
    assert _money(fake, "0501110002") == "1 -50 100"  # the reload was stored
    fake.state.users["testuser2"].cash = Decimal(-500)
    clock.instant += timedelta(seconds=3599)
    assert ask(fake, action="telepony", number="0501110002") == "1"
    clock.instant += timedelta(seconds=1)
    assert ask(fake, action="telepony", number="0501110002") == "2"


def test_the_default_branch_honours_ignorecache_in_what_it_logs(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    ask(fake, action="asterisk", number="0501110001", param="userstatus")
    fake.state.users["testuser1"].passive = 1
    ask(fake, action="asterisk", number="0501110001", param="loginuniq")
    ask(fake, action="asterisk", number="0501110001", param="loginuniq", ignorecache="1")
    assert [line.split(" REPLY: ")[1] for line in fake.state.incallsnum_log] == [
        "1 LOGIN: testuser1",
        "1 LOGIN: testuser1",
        "3 LOGIN: testuser1",
    ]


def test_phone_lists_are_kept_a_day_and_dropped_by_cachedog(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    fake.state.mobileext.append(ExtMobile(1, "testuser3", "0671113333", ""))
    assert ask(fake, action="asterisk", number="0501110001", param="userstatus") == "1"
    assert ask(fake, action="cachedog") == "CACHEDOG:CACHE_OK"  # USER_ALL_DATA now cached
    fake.state.phones[0].mobile = "0679990001"  # testuser1's mobile edited in Ubilling
    assert ask(fake, action="asterisk", number="0679990001", param="userstatus") == "0"
    found = json.loads(ask(fake, action="userbynum", number="0679990001", nocache="1"))
    assert (found["result"], found["userdata"]["mobile"]) == (1, "0501110001")  # a day old
    assert ask(fake, action="cachedog") == "CACHEDOG:CACHE_CLEANED"
    assert ask(fake, action="asterisk", number="0679990001", param="userstatus") == "1"
    # an extra mobile is not part of the users data: cachedog sees no change
    fake.state.mobileext.append(ExtMobile(2, "testuser2", "0672222222", ""))
    assert ask(fake, action="cachedog") == "CACHEDOG:CACHE_OK"
    assert ask(fake, action="asterisk", number="0672222222", param="userstatus") == "0"
    assert ask(fake, action="userbynum", number="0672222222") == '{"result":0}'
    clock.instant += timedelta(days=1)
    assert ask(fake, action="asterisk", number="0672222222", param="userstatus") == "2"


def test_userbynum_user_data_is_a_day_old_even_with_nocache(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    json.loads(ask(fake, action="userbynum", number="0501110001"))
    user = fake.state.users["testuser1"]
    user.tariff, user.credit, user.cash = "Test200", Decimal(30), Decimal(-10)
    for extra in ({}, {"nocache": "1"}):
        data = json.loads(ask(fake, action="userbynum", number="0501110001", **extra))
        assert (data["userdata"]["Tariff"], data["userdata"]["Credit"]) == ("Test100", "0")
    fresh = json.loads(ask(fake, action="asterisk", login="testuser1", param="getuserdatabylogin"))
    assert (fresh["testuser1"]["Tariff"], fresh["testuser1"]["Credit"]) == ("Test200", "30")
    assert ask(fake, action="asterisk", param="getonlinedaysleft", login="testuser1") == "-1"
    clock.instant += timedelta(days=1)
    data = json.loads(ask(fake, action="userbynum", number="0501110001"))
    assert (data["userdata"]["Tariff"], data["userdata"]["Cash"]) == ("Test200", "-10")


def test_userbynum_asks_the_per_number_cache_first(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    fake.remember_number("0501110001", "testuser3")  # as PBXMonitor left it
    for extra in ({}, {"nocache": "1"}):
        data = json.loads(ask(fake, action="userbynum", number="0501110001", **extra))
        assert data["userdata"]["login"] == "testuser3"
    assert ask(fake, action="asterisk", number="0501110001", param="userstatus") == "1"
    fake.state.users["testuser3"].realname = "Renamed"
    assert ask(fake, action="cachedog") == "CACHEDOG:CACHE_CLEANED"
    assert "PHONETELEPATHY" not in fake.cache.live_keys()
    data = json.loads(ask(fake, action="userbynum", number="0501110001"))
    assert data["userdata"]["login"] == "testuser1"


def test_cachedog_leaves_phone_caches_alone_without_userbynum(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    ask(fake, action="asterisk", number="0501110001", param="userstatus")
    ask(fake, action="cachedog")
    fake.config.userbynum_enabled = False
    fake.state.users["testuser1"].realname = "Renamed"
    assert ask(fake, action="cachedog") == "CACHEDOG:CACHE_CLEANED"
    assert fake.cache.live_keys() == {"PHONEDATA", "EXTMOBILES", "PBXUSERDATA"}


def test_userpass_is_checked_against_the_cached_password(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    assert ask(fake, action="asterisk", param="getuserdatabylogin", login="testuser1",
               userpass="pass0001").startswith('{"testuser1"')  # fmt: skip
    fake.state.users["testuser1"].password = "changed1"
    assert ask(fake, action="asterisk", param="getuserdatabylogin", login="testuser1",
               userpass="pass0001").startswith('{"testuser1"')  # fmt: skip
    assert ask(fake, action="asterisk", param="getuserdatabylogin", login="testuser1",
               userpass="changed1") == '{"ERROR":"Auth failed"}'  # fmt: skip


def test_cache_storage_fake_keeps_nothing(clock: FixedClock) -> None:
    fake = FakeUbilling(clock=clock)
    fake.config.cache_storage = "fake"
    assert _money(fake, "0501110002") == "2 -50 100"
    json.loads(ask(fake, action="userbynum", number="0501110002"))
    fake.state.users["testuser2"].credit = Decimal(100)
    fake.state.users["testuser2"].tariff = "Test200"
    assert _money(fake, "0501110002") == "1 -50 200"
    data = json.loads(ask(fake, action="userbynum", number="0501110002"))
    assert data["userdata"]["Tariff"] == "Test200"
    assert fake.cache.live_keys() == frozenset()
