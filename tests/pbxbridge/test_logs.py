import io
import json
import logging

import pytest

from pbxbridge.logs import configure_logging, redact
from pbxbridge.settings import LoggingSettings

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
