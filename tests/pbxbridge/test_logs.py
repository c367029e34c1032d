import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ami_listener.message import AmiMessage
from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local import LocalBackend
from billing_client.local.admin import LocalAdmin
from billing_client.outcomes import MoneySource
from pbxbridge.logs import BatchingStreamHandler, configure_logging, redact
from pbxbridge.settings import LoggingSettings
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from sms.events import DeliveryReport, inbound_from_event
from sms.outbox import Outbox
from sms.settings import SmsSettings
from tests.conftest import Database

SECRET = "UB3debbb779deac3a5e8f7b7896bf8a53f"


def test_redact_hides_secret_values_and_url_keys() -> None:
    url = f"http://b/?module=remoteapi&key={SECRET}&action=asterisk"
    assert SECRET not in redact(url, [])
    assert "key=***" in redact(url, [])
    assert redact("token 123:abc here", ["123:abc"]) == "token *** here"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_never_carry_secrets(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging(LoggingSettings(level="DEBUG", format=fmt), [SECRET, "bot-token-xyz"])
    log = logging.getLogger("pbxbridge.test")
    log.info("calling %s", f"http://b/?key={SECRET}&x=1")
    log.warning("token is %s", "bot-token-xyz")
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError:
        log.exception("failed")
    out = stream.getvalue()
    assert SECRET not in out
    assert "bot-token-xyz" not in out
    assert "boom with ***" in out
    if fmt == "json":
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert [e["level"] for e in lines] == ["INFO", "WARNING", "ERROR"]
        assert "boom with ***" in lines[-1]["exc"]
    logging.getLogger().handlers.clear()


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
async def test_a_missing_value_is_logged_as_a_dash_not_none(
    sqlite_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    """Representative paths that log an optional value the event or the billing did not
    give: a credit refused (no amount), an SMS event with no sender, a delivery report
    without a payload. (Found by running the suite with a handler that flagged every
    record with a None argument.)"""
    configure_logging(LoggingSettings(level="DEBUG"), timezone="Europe/Kyiv")
    db = sqlite_database
    clock = FixedClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
    audit = AuditJournal(db.sessions, "local", clock)
    phones = PhoneNormaliser("UA")
    await LocalAdmin(db.sessions, clock, audit, phones).add(
        "ivan", phones=["0501110001"], balance=Decimal(10), actor="test"
    )
    billing = BillingClient(LocalBackend(db.sessions, clock, audit), phones)
    refused = await billing.set_credit(login="ivan", source=MoneySource(kind="cli", user="t"))
    assert refused.amount is None
    event = AmiMessage((("Event", "DongleNewSMSBase64"), ("Device", "dongle0"), ("Message", "%%%")))
    inbound_from_event(event, "DongleNewSMSBase64")
    outbox = Outbox(db.sessions, clock, None, SmsSettings())
    await outbox.apply_report(DeliveryReport("dongle0", "delivered", "ok", modem_id="7"))

    err = capsys.readouterr().err
    assert "None" not in err
    assert "credit - for ivan (cli user t): DENIED " in err
    assert "DongleNewSMSBase64 from - on dongle0: Message is not base64" in err
    assert "matches no message (payload -, id '7')" in err


def test_text_and_json_lines_show_the_service_s_zone() -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(), timezone="Europe/Kyiv")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    for moment, shown in (
        (datetime(2026, 11, 22, 10, 0, 1, 250_000, tzinfo=UTC), "2026-11-22 12:00:01,250 EET"),
        (datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "2026-07-01 12:00:00,000 EEST"),
    ):
        record = logging.LogRecord("pbxbridge.t", logging.INFO, __file__, 1, "at %s", ("x",), None)
        record.created = moment.timestamp()
        record.msecs = moment.microsecond // 1000
        handler.handle(record)
        assert stream.getvalue().splitlines()[-1] == f"{shown} INFO pbxbridge.t: at x"
    logging.getLogger().handlers.clear()


_BATCHED_RUN = """
import logging, sys
from pbxbridge.logs import configure_logging
from pbxbridge.settings import LoggingSettings
configure_logging(LoggingSettings(flush_interval=5), [sys.argv[1]], batched=True)
log = logging.getLogger("agi.routes.common")
for i in range(500):
    log.info("AGI %d askozianum: number %r -> OK via %s", i, "0501234567", sys.argv[1])
if sys.argv[2] == "crash":
    raise RuntimeError("boom")
"""


@pytest.mark.parametrize("end", ["exit", "crash"])
def test_batched_lines_are_all_written_at_exit_in_order_and_redacted(end: str) -> None:
    """500 INFO lines wait for a 5 s batch; the process ends well before: logging's
    shutdown at exit (normal or an uncaught exception) writes every one."""
    done = subprocess.run(
        [sys.executable, "-c", _BATCHED_RUN, SECRET, end],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    lines = [line for line in done.stderr.splitlines() if "askozianum" in line]
    assert [int(line.split("AGI ")[1].split()[0]) for line in lines] == list(range(500))
    assert SECRET not in done.stderr
    assert all(line.endswith("via ***") for line in lines)
    assert (done.returncode != 0) == (end == "crash")


def _batched(monkeypatch: pytest.MonkeyPatch, interval: float) -> io.StringIO:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    settings = LoggingSettings(level="DEBUG", flush_interval=interval)
    configure_logging(settings, [SECRET], batched=True)
    assert isinstance(logging.getLogger().handlers[0], BatchingStreamHandler)
    return stream


@pytest.mark.usefixtures("root_logging")
def test_batched_info_lines_are_written_within_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = _batched(monkeypatch, 0.05)
    logging.getLogger("agi.routes.common").info("AGI 1 number %s", SECRET)
    deadline = time.monotonic() + 10
    while "AGI 1" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue().endswith("INFO agi.routes.common: AGI 1 number ***\n")
    logging.getLogger().handlers[0].close()


@pytest.mark.usefixtures("root_logging")
def test_a_warning_writes_the_waiting_lines_and_itself_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = _batched(monkeypatch, 5)
    log = logging.getLogger("agi.server")
    log.info("first")
    log.debug("second")
    assert stream.getvalue() == ""  # waiting for the batch
    log.warning("third %s", SECRET)
    shown = [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()]
    assert shown == ["first", "second", "third ***"]
    handler = logging.getLogger().handlers[0]
    configure_logging(LoggingSettings(), [SECRET])  # replaced: the old one is closed
    assert isinstance(handler, BatchingStreamHandler)
    assert not handler._flusher.is_alive()


def test_commands_log_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only `pbxbridge run` batches; a command's lines stay next to what it prints."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging(LoggingSettings(flush_interval=5), [SECRET])
    logging.getLogger("pbxbridge.test").info("now")
    assert stream.getvalue().endswith("INFO pbxbridge.test: now\n")
    logging.getLogger().handlers.clear()
