"""agi.settings: defaults, validation and the source-address allowlist."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agi import AgiSettings
from agi.settings import address_allowed


def test_defaults() -> None:
    settings = AgiSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 4573)
    assert settings.allow == ["127.0.0.1/32", "::1/128"]
    assert (settings.header_timeout, settings.command_timeout) == (5.0, 30.0)
    assert settings.session_timeout == 300.0
    assert settings.max_header_bytes == 16384
    assert settings.max_command_bytes == 2047
    assert settings.trust_args is False
    assert settings.lookup_timeout == 1.5
    assert (settings.paycard_digits, settings.pin_digits) == (16, 4)
    assert (settings.lockout_failures, settings.lockout_window) == (5, 3600.0)
    assert settings.drain_timeout == 10.0


def test_every_field_is_described() -> None:
    missing = [name for name, f in AgiSettings.model_fields.items() if not f.description]
    assert missing == []


@pytest.mark.parametrize(
    "changes",
    [
        {"allow": ["10.0.0.0/33"]},
        {"allow": ["not-an-address"]},
        {"port": 70000},
        {"header_timeout": 0},
        {"max_header_bytes": 65537},  # 4096 pending connections may hold that much each
        {"pin_prompt": "two words"},
        {"language": "en;rm"},
        {"no_such_option": 1},
    ],
)
def test_invalid_settings(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AgiSettings.model_validate(changes)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("127.0.0.2", False),
        ("10.1.2.3", False),
        ("::2", False),
        ("not an address", False),
    ],
)
def test_default_allowlist(address: str, allowed: bool) -> None:
    assert address_allowed(address, AgiSettings().networks()) is allowed


def test_networks_and_single_addresses() -> None:
    networks = AgiSettings(allow=["10.1.2.3/8", "192.0.2.7", "2001:db8::/32"]).networks()
    assert address_allowed("10.200.0.1", networks)
    assert address_allowed("192.0.2.7", networks)
    assert not address_allowed("192.0.2.8", networks)
    assert address_allowed("2001:db8::5", networks)
    assert not address_allowed("127.0.0.1", AgiSettings(allow=[]).networks())
