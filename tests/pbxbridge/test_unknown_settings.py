"""A typo in a setting is an error naming the key (or the variable), in every section."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from pbxbridge import settings as settings_module
from pbxbridge.cli.main import cli
from pbxbridge.settings import Settings, SettingsError, ignored_variables, load_settings


def sections(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every settings class reachable from Settings, as a dotted section name ("": the
    top level), found by walking the fields: a section added later is tested too."""
    found = [prefix]
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += sections(annotation, f"{prefix}.{name}" if prefix else name)
    return found


SECTIONS = sections(Settings)


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PBXBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(settings_module, "CONFIG_CANDIDATES", ())
    monkeypatch.chdir(tmp_path)


def test_the_walk_finds_every_section() -> None:
    assert set(SECTIONS) >= {
        "",
        "database",
        "billing",
        "agi",
        "ami",
        "sms",
        "sms.auto_reply",
        "missed_calls",
        "telegram",
        "spool",
        "spool.retry_delays",
        "callback",
        "logging",
    }


def variable(section: str, key: str) -> str:
    return "PBXBRIDGE_" + "__".join([*section.split("."), key] if section else [key]).upper()


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s or "top-level")
def test_a_typo_in_the_file_is_refused(tmp_path: Path, section: str) -> None:
    config = tmp_path / "p.toml"
    config.write_text((f"[{section}]\n" if section else "") + "zzz_typo = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    where = f"{section}.zzz_typo" if section else "zzz_typo"
    owner = section or "the top level"
    assert f"{where}: unknown setting ({owner} has no key 'zzz_typo')" in str(caught.value)


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s or "top-level")
def test_a_typo_in_the_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, section: str
) -> None:
    name = variable(section, "zzz_typo")
    monkeypatch.setenv(name, "1")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    owner = section or "the top level"
    lines = str(caught.value).splitlines()
    assert lines[1:] == [f"{name}: unknown setting ({owner} has no key 'zzz_typo')"]


def test_the_reported_typos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's two: `urll` passed `check` and created an empty database, and
    PBXBRIDGE_BILLING__BACKENDD=ubilling left the billing local."""
    config = tmp_path / "p.toml"
    config.write_text('[database]\nurll = "sqlite+aiosqlite:///other.db"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert "database.urll: unknown setting (database has no key 'urll')" in result.output
    assert not (tmp_path / "var").exists()  # no database was created

    monkeypatch.setenv("PBXBRIDGE_BILLING__BACKENDD", "ubilling")
    with pytest.raises(SettingsError, match="PBXBRIDGE_BILLING__BACKENDD: unknown setting"):
        load_settings()


def test_variables_match_without_regard_to_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PBXBRIDGE_agi__Port", "5100")
    assert load_settings()[0].agi.port == 5100
    monkeypatch.setenv("pbxbridge_agi__portt", "5101")
    with pytest.raises(SettingsError, match="pbxbridge_agi__portt: unknown setting"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PBXBRIDGE_AGI__PORT", "many", "PBXBRIDGE_AGI__PORT: agi.port: Input should be"),
        ("PBXBRIDGE_BILLING__BACKEND", "bogus", "PBXBRIDGE_BILLING__BACKEND: billing.backend:"),
        (
            "PBXBRIDGE_SPOOL__RETRY_DELAYS",
            '{"busy": 1, "bussy": 2}',
            "PBXBRIDGE_SPOOL__RETRY_DELAYS: spool.retry_delays.bussy: unknown setting",
        ),
        (
            "PBXBRIDGE_AGI__PORT__NUMBER",
            "1",
            "PBXBRIDGE_AGI__PORT__NUMBER: unknown setting (agi.port is a value, not a section)",
        ),
        (
            "PBXBRIDGE_TIMEZONEE",
            "UTC",
            "PBXBRIDGE_TIMEZONEE: unknown setting (the top level has no key 'timezonee')",
        ),
    ],
)
def test_a_bad_value_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    config = tmp_path / "p.toml"
    config.write_text("[agi]\nport = 4600\n[billing]\ncredit_days = 7\n", encoding="utf-8")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2, lines  # the header and one line: nothing said twice
    assert lines[1].startswith(says)


def test_a_problem_the_file_causes_names_no_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "p.toml"
    config.write_text('[agi]\nport = "many"\n', encoding="utf-8")
    monkeypatch.setenv("PBXBRIDGE_AGI__HOST", "127.0.0.2")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert str(caught.value).splitlines()[1:] == [
        "agi.port: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_a_section_this_version_does_not_have_is_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PBXBRIDGE_FUTURE__PORT", "8080")
    settings, _ = load_settings()
    assert settings.agi.port == 4573
    assert ignored_variables() == [
        "PBXBRIDGE_FUTURE__PORT: this version of pbxbridge has no [future] section; "
        "the variable is ignored"
    ]

    # Through the CLI: said once, on stderr, and the command works.
    config = tmp_path / "p.toml"
    config.write_text('[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("PBXBRIDGE_FUTURE__PORT") == 1
    assert "WARNING pbxbridge.settings: PBXBRIDGE_FUTURE__PORT: this version" in result.stderr
    with sqlite3.connect(tmp_path / "pbx.db") as db:
        assert db.execute("select count(*) from alembic_version").fetchone()[0] >= 1


def test_variables_that_are_not_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "p.toml"
    config.write_text("[agi]\nport = 4600\n", encoding="utf-8")
    monkeypatch.setenv("PBXBRIDGE_CONFIG", str(config))
    monkeypatch.setenv("PBXBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1/x")
    monkeypatch.setenv("PBXBRIDGE_TEST_ANYTHING_ELSE", "1")
    settings, path = load_settings()
    assert (settings.agi.port, path) == (4600, config.resolve())
    assert ignored_variables() == []
