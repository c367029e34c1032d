"""[[webhooks]] entries that cannot work are refused at load, one clear line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxbridge.settings import SettingsError, load_settings
from tests.webhooks.receiver import SECRET

GOOD = f'name = "billing"\nurl = "https://billing.example.net/hook"\nsecret = "{SECRET}"\n'


def load(tmp_path: Path, text: str) -> str:
    config = tmp_path / "pbxbridge.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    return str(caught.value)


def test_a_good_entry_loads_and_its_secrets_are_redacted(tmp_path: Path) -> None:
    config = tmp_path / "pbxbridge.toml"
    config.write_text(
        "[[webhooks]]\n"
        'name = "billing"\nurl = "https://pbx:pa55word@billing.example.net/hook?x=1"\n'
        f'secret = "{SECRET}"\nevents = ["call.missed", "sms.received", "call.missed"]\n',
        encoding="utf-8",
    )
    settings, _ = load_settings(config)
    [webhook] = settings.webhooks
    assert webhook.events == ["call.missed", "sms.received"]
    assert webhook.shown_url == "https://billing.example.net/hook"
    assert {SECRET, "pa55word"} <= set(settings.secrets())
    assert SECRET not in repr(settings)


def test_an_entry_without_a_secret_is_refused(tmp_path: Path) -> None:
    said = load(
        tmp_path,
        '[[webhooks]]\nname = "billing"\nurl = "https://b.example/h"\nevents = ["call.missed"]\n',
    )
    assert "webhooks.0.secret" in said
    assert "webhook 'billing': a webhook needs a secret of at least 16 characters" in said


def test_an_unknown_event_kind_is_refused(tmp_path: Path) -> None:
    said = load(tmp_path, "[[webhooks]]\n" + GOOD + 'events = ["call.missed", "sms.recieved"]\n')
    assert "webhooks.0.events" in said
    assert "webhook 'billing': unknown event kind(s) 'sms.recieved'; known: sms.received" in said


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("url = 'ftp://x/'", "http:// or https://"),
        ("events = []", "at least 1 item"),
        ("timeout = 0", "greater than 0"),
        ("retries = 3", "unknown setting"),
    ],
)
def test_other_bad_entries_are_refused(tmp_path: Path, extra: str, says: str) -> None:
    entry = (
        GOOD.replace('url = "https://billing.example.net/hook"\n', "") if "url" in extra else GOOD
    )
    events = "" if "events" in extra else 'events = ["call.missed"]\n'
    said = load(tmp_path, "[[webhooks]]\n" + entry + events + extra + "\n")
    assert says in said


def test_a_name_used_twice_is_refused(tmp_path: Path) -> None:
    entry = "[[webhooks]]\n" + GOOD + 'events = ["call.missed"]\n'
    said = load(tmp_path, entry + entry)
    assert "webhooks: 'billing' is listed 2 times; one entry per webhook" in said
