"""`[telegram]` settings."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import SecretStr, ValidationError

from notify import TelegramSettings

TOKEN = "123456789:AAHsecretPart_0123456789-abcdef"


def test_defaults_are_off_and_sensible() -> None:
    settings = TelegramSettings()
    assert settings.active is False
    assert settings.staff_chats == []
    assert settings.api_server == "https://api.telegram.org"
    assert (settings.batch_window, settings.max_messages_per_minute) == (10.0, 20)
    assert settings.poll_timeout == 25
    assert all(field.description for field in TelegramSettings.model_fields.values())


def test_the_toml_section_loads() -> None:
    data = tomllib.loads(
        f"""
        [telegram]
        enabled = true
        token = "{TOKEN}"
        staff_chats = [111, -1001234567890]
        api_server = "http://127.0.0.1:8081/"
        batch_window = 5
        max_messages_per_minute = 10
        poll_timeout = 30
        """
    )
    settings = TelegramSettings(**data["telegram"])
    assert settings.active is True
    assert settings.token.get_secret_value() == TOKEN
    assert settings.staff_chats == [111, -1001234567890]
    assert settings.api_server == "http://127.0.0.1:8081"
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_means_off_even_when_enabled(token: str) -> None:
    assert TelegramSettings(enabled=True, token=SecretStr(token)).active is False


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        TelegramSettings(chats=[1])  # type: ignore[call-arg]


@pytest.mark.parametrize("token", ["AAHsecretPart", "12:ab cd", "abc:AAHsecretPart", "123:"])
def test_a_malformed_token_is_refused_without_repeating_it(token: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TelegramSettings(enabled=True, token=SecretStr(token))
    assert "123456789:AAE" in str(caught.value)
    for part in token.split(":"):
        if len(part) > 3:
            assert part not in str(caught.value)


@pytest.mark.parametrize("url", ["api.telegram.org", "ftp://x"])
def test_api_server_must_be_http(url: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        TelegramSettings(api_server=url)


@pytest.mark.parametrize(
    "values",
    [
        {"batch_window": 0},
        {"max_messages_per_minute": 0},
        {"poll_timeout": 0},
        {"poll_timeout": 51},
    ],
)
def test_limits_are_checked(values: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        TelegramSettings(**values)
