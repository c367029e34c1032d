"""A pbxbridge subscriber written as Ubilling's remoteapi writes its users.

Ubilling's records come from Stargazer's `users` table joined with others; pbxbridge keeps
less (no contract, IP, address, e-mail, agent) and never a password. What it does not keep
is answered `null`, as Ubilling answers a column of a missing joined row; the `Password`
Ubilling sends in clear is left out altogether. Numbers are written as a subscriber
dials them at home (`0501110001`), the way Ubilling installs usually store them.

Money: `Cash` is the balance, `Credit` the credit in force (Stargazer zeroes an expired
one), `CreditExpire` the unix time of the local midnight starting the credit's last day
(what Ubilling's setcredit stores), `0` without a credit. `Passive` is frozen, `Down` is
disabled, `AlwaysOnline` is always `1` (pbxbridge's disabled covers both of Ubilling's).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from askozia_api.php import mysql_number
from billing_client.subscriber import SubscriberInfo
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser


def _flag(value: bool) -> str:
    return "1" if value else "0"


def dialled(phones: PhoneNormaliser, numbers: tuple[str, ...]) -> list[str]:
    """E.164 numbers as dialled inside the country (`0501110001`), others as they are."""
    return [phones.national(n) for n in numbers]


def credit_expire(info: SubscriberInfo, clock: Clock) -> str:
    if info.credit <= 0 or info.credit_expire is None:
        return "0"
    midnight = datetime.combine(info.credit_expire, time(0), tzinfo=clock.tz)
    return str(int(midnight.timestamp()))


def tariff_fee(info: SubscriberInfo) -> tuple[str | None, str | None]:
    """(`Fee`, `period`): null when there is no tariff at all (Ubilling's LEFT JOIN)."""
    if not info.tariff and info.fee == 0:
        return None, None
    return mysql_number(info.fee), "month"


def userdata(info: SubscriberInfo, phones: PhoneNormaliser, clock: Clock) -> dict[str, Any]:
    """One record of `getuserdatabylogin` / `getuserdatabymobile` (Asterisk::getUserData)."""
    numbers = dialled(phones, info.phones)
    fee, period = tariff_fee(info)
    return {
        "login": info.login,
        "Cash": mysql_number(info.balance),
        "Credit": mysql_number(info.credit),
        "CreditExpire": credit_expire(info, clock),
        "Passive": _flag(info.frozen),
        "Down": _flag(info.disabled),
        "AlwaysOnline": "1",
        "Tariff": info.tariff,
        "Fee": fee,
        "period": period,
        "contract": None,
        "mobile": numbers[0] if numbers else None,
        "agentid": None,
        "contrname": None,
        "ext_mobiles": numbers[1:],
    }


def userbynum_record(info: SubscriberInfo, phones: PhoneNormaliser) -> dict[str, Any]:
    """`userdata` of `action=userbynum` (zb_UserGetAllDataCache's row)."""
    numbers = dialled(phones, info.phones)
    return {
        "login": info.login,
        "realname": info.name,
        "Passive": _flag(info.frozen),
        "Down": _flag(info.disabled),
        "AlwaysOnline": "1",
        "Tariff": info.tariff,
        "TariffChange": "",
        "Credit": mysql_number(info.credit),
        "Cash": mysql_number(info.balance),
        "ip": None,
        "mac": None,
        "cityname": None,
        "streetname": None,
        "buildnum": None,
        "entrance": None,
        "floor": None,
        "apt": None,
        "geo": None,
        "fulladress": None,
        "phone": numbers[1] if len(numbers) > 1 else "",
        "mobile": numbers[0] if numbers else None,
        "contract": None,
        "email": None,
    }


def days_left_reply(info: SubscriberInfo) -> str:
    """`getonlinedaysleft`: `-1` while the balance is below zero and `-2` for a tariff that
    costs nothing (FundsFlow's codes), else the days pbxbridge's billing counts."""
    if info.balance < 0:
        return "-1"
    if info.fee <= Decimal(0):
        return "-2"
    return str(info.days_left if info.days_left is not None and info.known("days_left") else 0)
