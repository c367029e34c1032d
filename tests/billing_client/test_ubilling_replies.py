"""Reply parsers, the PHP serialize reader and redaction, on the recorded bodies."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from billing_client.errors import PhpSerializeError, UbillingRefused, UnexpectedReply
from billing_client.outcomes import CreditReason, CreditResult, LoginMatch, PaycardResult
from billing_client.subscriber import Status
from billing_client.ubilling import phpserialize, replies
from billing_client.ubilling.http import base_url, redact, scrub
from tests.fakes.ubilling import LOGIN_PAGE, PHP_FATAL_ERROR, SERIAL, STARGAZER_DOWN

# bodies exactly as the reference recorded them (rows 24-28, 42, 63, 64)
GETMONEY = {
    "YTozOntpOjA7czoxOiIxIjtpOjE7ZDoxNTA7aToyO2Q6MTAwO30=": (Status.ACTIVE, "150", "100"),
    "YTozOntpOjA7czoxOiIyIjtpOjE7ZDotNTA7aToyO2Q6MTAwO30=": (Status.DEBTOR, "-50", "100"),
    "YTozOntpOjA7czoxOiIzIjtpOjE7ZDoyMDA7aToyO2Q6MjAwO30=": (Status.FROZEN, "200", "200"),
    "YTozOntpOjA7czoxOiIxIjtpOjE7ZDotMjA7aToyO2Q6MjAwO30=": (Status.ACTIVE, "-20", "200"),
    "YTozOntpOjA7czoxOiIyIjtpOjE7ZDotMTUuNTtpOjI7ZDoxNTA7fQ==": (Status.DEBTOR, "-15.5", "150"),
}
USERDATA_1 = (
    '{"testuser1":{"login":"testuser1","Password":"pass0001","Cash":"150","Credit":"0",'
    '"CreditExpire":"0","Passive":"0","Down":"0","AlwaysOnline":"1","Tariff":"Test100",'
    '"Fee":"100","period":"month","contract":"10001","mobile":"0501110001","agentid":null,'
    '"contrname":null,"ext_mobiles":[]}}'
)
USERBYNUM_1 = (
    '{"result":1,"userdata":{"login":"testuser1","realname":"\\u041f\\u0435\\u0442\\u0440\\u0435'
    "\\u043d\\u043a\\u043e \\u0406\\u0432\\u0430\\u043d \\u041f\\u0435\\u0442\\u0440\\u043e\\u0432"
    '\\u0438\\u0447","Passive":"0","Down":"0","Password":"pass0001","AlwaysOnline":"1",'
    '"Tariff":"Test100","TariffChange":"","Credit":"0","Cash":"150","ip":"172.16.0.1",'
    '"mac":null,"cityname":null,"streetname":null,"buildnum":null,"entrance":null,"floor":null,'
    '"apt":null,"geo":null,"fulladress":null,"phone":"","mobile":"0501110001",'
    '"contract":"10001","email":null}}'
)


@pytest.mark.parametrize("body", list(GETMONEY))
def test_getmoney_blobs(body: str) -> None:
    status, cash, fee = GETMONEY[body]
    assert replies.parse_getmoney(body) == replies.MoneyReply(status, Decimal(cash), Decimal(fee))


def test_getmoney_unknown_number_is_a_plain_zero() -> None:
    assert replies.parse_getmoney("0") is None


def _blob(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "body",
    [
        "1",  # a plain status: getmoney ignored
        "3",
        _blob('a:3:{i:0;s:1:"0";i:1;d:1;i:2;d:1;}'),  # status 0 never comes encoded
        _blob('a:2:{i:0;s:1:"1";i:1;d:1;}'),
        _blob('a:3:{i:0;s:1:"1";i:1;d:1;i:2;s:1:"x";}'),
        _blob('a:3:{i:0;s:1:"1";i:1;d:INF;i:2;d:1;}'),
        _blob('a:3:{i:0;s:1:"1";i:1;d:1.0E+300;i:2;d:1;}'),  # a corrupt DOUBLE: no amount
        _blob('a:3:{i:0;s:1:"1";i:1;d:1;i:2;i:-1000000000000;}'),
        _blob('a:3:{i:0;s:1:"1";i:1;d:1;i:2;d:1;}x'),
        _blob('O:8:"stdClass":0:{}'),
        "YTozOn@@",
        "",
    ],
)
def test_getmoney_rejects_other_shapes(body: str) -> None:
    with pytest.raises(UnexpectedReply):
        replies.parse_getmoney(body)


def test_php_serialize_reader() -> None:
    assert phpserialize.loads(b'a:2:{i:0;s:4:"\xd0\x86\xd0\xb2";s:1:"k";a:1:{i:0;N;}}') == {
        0: "Ів",
        "k": {0: None},
    }
    assert phpserialize.loads(b"d:1.0E+25;") == Decimal("1.0E+25")
    assert phpserialize.loads(b"b:1;") is True
    for bad in (b's:5:"abc";', b"i:1", b"a:1:{i:0;i:1;i:0;i:2;}", b"a:1:{}", b"x:1;", b"i:1;;"):
        with pytest.raises(PhpSerializeError):
            phpserialize.loads(bad)


def test_userdata_never_keeps_the_password() -> None:
    [record] = replies.parse_userdata(USERDATA_1).values()
    assert record == replies.UserRecord(
        login="testuser1",
        cash=Decimal(150),
        credit=Decimal(0),
        passive=False,
        down=False,
        always_online=True,
        tariff="Test100",
        fee=Decimal(100),
        credit_expire=0,
        mobiles=("0501110001",),
    )
    assert "pass0001" not in repr(record)
    assert replies.parse_userdata("[]") == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [("Cash", "1e300"), ("Credit", "-1000000000000"), ("Fee", "1E+12"), ("CreditExpire", "1" * 20)],
)
def test_userdata_value_no_amount_or_date_holds_is_malformed(field: str, value: str) -> None:
    """A corrupt row used to crash later (InvalidOperation rounding to kopecks, OverflowError
    turning CreditExpire into a date) instead of being refused where it was read."""
    body = USERDATA_1.replace(f'"{field}":"', f'"{field}":"{value}", "x{field}":"', 1)
    with pytest.raises(UnexpectedReply, match=field):
        replies.parse_userdata(body)


def test_userbynum_keeps_the_cyrillic_name() -> None:
    record = replies.parse_userbynum(USERBYNUM_1)
    assert record is not None
    assert (record.login, record.realname, record.status) == (
        "testuser1",
        "Петренко Іван Петрович",
        Status.ACTIVE,
    )
    assert "pass0001" not in repr(record)
    assert replies.parse_userbynum('{"result":0}') is None


def test_malformed_userdata_error_has_no_password() -> None:
    broken = USERDATA_1.replace('"Cash":"150"', '"Cash":"lots"')
    with pytest.raises(UnexpectedReply) as caught:
        replies.parse_userdata(broken)
    assert "Cash" in str(caught.value)
    assert "pass0001" not in str(caught.value)
    assert "pass0001" not in caught.value.snippet
    with pytest.raises(UnexpectedReply):
        replies.parse_userdata('{"ERROR":"Auth failed"}')


@pytest.mark.parametrize(
    ("body", "days"),
    [("40", 40), ("0", 0), ("-1", 0), ("-2", None)],  # row 53, no data, row 54, free tariff
)
def test_days_left(body: str, days: int | None) -> None:
    assert replies.parse_days_left(body) == days


@pytest.mark.parametrize("body", ["", "40 ", "4.5", "ERROR: ASTERISK DISABLED", "1" * 7, "--1"])
def test_days_left_rejects_other_shapes(body: str) -> None:
    with pytest.raises(UnexpectedReply):
        replies.parse_days_left(body)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("ERROR:GET_WRONG_KEY", "refused the key"),
        ("ERROR:API_DISABLED", "REMOTEAPI_ENABLED=1"),
        ("ERROR: ASTERISK DISABLED", "ASTERISK_ENABLED=1"),
        ("ERROR: USERBYNUM DISABLED", "USERBYNUM_ENABLED=1"),
        ("ERROR:NO_UBSERIAL_EXISTS", "no serial"),
        (LOGIN_PAGE, "HTML login page"),
        (STARGAZER_DOWN, "Stargazer is not running"),
        ("", "empty body"),
    ],
)
def test_envelope_errors_get_one_clear_line(body: str, words: str) -> None:
    with pytest.raises(UbillingRefused) as caught:
        replies.parse_getmoney(body)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.snippet == body[:200]


def test_php_error_page_is_quoted_not_refused() -> None:
    with pytest.raises(UnexpectedReply) as caught:
        replies.parse_loginuniq(PHP_FATAL_ERROR)
    assert not isinstance(caught.value, UbillingRefused)  # it may have run halfway
    assert "PHP error" in str(caught.value)
    assert len(caught.value.snippet) == 200


def test_unknown_sentence_is_unexpected() -> None:
    with pytest.raises(UnexpectedReply) as caught:
        replies.parse_setcredit("ASTERISK CREDIT SET SUCCESSFULLY")  # not Ubilling's spelling
    assert "SUCCESSFULLY" in str(caught.value)


def test_sentence_tables() -> None:
    assert replies.SETCREDIT_SENTENCES == {
        "ASTERISK CREDIT SET SUCCESSFULY": (CreditResult.OK, None),
        "ASTERISK CREDIT NOT SET: CASH > 0 OR NOT SET": (
            CreditResult.DENIED, CreditReason.NOT_NEEDED),
        "ASTERISK CREDIT NOT SET: EMPTY USERDATA": (CreditResult.NOTFOUND, None),
        "ASTERISK CREDIT NOT AVAILABLE: BALANCE LOWER THAN CREDIT LIMIT": (
            CreditResult.DENIED, CreditReason.DEBT_TOO_LARGE),
        "ASTERISK CREDIT NOT AVAILABLE: CREDIT IS CURRENTLY ACTIVE": (
            CreditResult.DENIED, CreditReason.ALREADY_IN_CREDIT),
        "ASTERISK CREDIT NOT AVAILABLE: ALREADY TOOK": (
            CreditResult.DENIED, CreditReason.MONTH_LIMIT),
        "ASTERISK CREDIT NOT AVAILABLE: NOT PAYED PREVIOUSLY": (
            CreditResult.DENIED, CreditReason.NOT_ALLOWED),
        "ASTERISK CREDIT NOT AVAILABLE: NOT ALLOWED FOR TARIFF": (
            CreditResult.DENIED, CreditReason.NOT_ALLOWED),
    }  # fmt: skip
    assert replies.PAYCARD_SENTENCES == {
        "ASTERISK PAYCARD PAYMENT SUCCESSFUL": PaycardResult.OK,
        "ASTERISK PAYCARD NOT EXISTS": PaycardResult.INVALID,
        "ASTERISK PAYCARD NUMBER IS EMPTY": PaycardResult.INVALID,
        "ASTERISK PAYCARD PAYMENT UNSUCCESSFUL: EMPTY USERDATA": PaycardResult.NOTFOUND,
    }


def test_names_and_logins() -> None:
    assert replies.parse_realname("testuser1-Petrenko van Petrovych") == (
        "testuser1",
        "Petrenko van Petrovych",
    )
    assert replies.parse_realname("ERROR: NOT OUR USER") is None
    assert replies.parse_loginuniq("testuser1") == (LoginMatch.FOUND, "testuser1")
    assert replies.parse_loginuniq("ERROR: USER HAVE MANY LOGINS") == (LoginMatch.AMBIGUOUS, None)
    assert replies.parse_loginuniq("ERROR: NOT OUR USER") == (LoginMatch.NOTFOUND, None)
    with pytest.raises(UnexpectedReply):
        replies.parse_loginuniq("ERROR: MISTAKE PARAMETR")


def test_redaction() -> None:
    url = f"http://b/?module=remoteapi&key={SERIAL}&action=asterisk&paycardnum=1111222233334444"
    assert redact(url) == "http://b/?module=remoteapi&key=***&action=asterisk&paycardnum=…4444"
    assert redact(f"GET /?key={SERIAL} HTTP/1.1") == "GET /?key=*** HTTP/1.1"
    assert redact("monkey=1&turnkey=2") == "monkey=1&turnkey=2"
    assert scrub(f'{{"Password":"pass0001","x":"{SERIAL}"}}', SERIAL) == (
        '{"Password":"***","x":"***"}'
    )


def test_base_url() -> None:
    assert base_url("http://billing.isp/billing") == "http://billing.isp/billing/"
    assert base_url("https://h:8443/?x=1#f") == "https://h:8443/"
    with pytest.raises(Exception, match="http"):
        base_url("ftp://h/")
