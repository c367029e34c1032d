from pathlib import Path

import pytest
from pydantic import BaseModel

from pbxbridge.settings import SettingsError, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PBXBRIDGE_"):
            monkeypatch.delenv(name)


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings, path = load_settings()
    # /etc/pbxbridge/pbxbridge.toml does not exist on a test machine
    assert path is None
    assert settings.billing.backend == "local"
    assert settings.timezone == "Europe/Kyiv"
    assert settings.agi.host == "127.0.0.1"
    assert settings.agi.port == 4573
    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'pbxbridge.db'}"


def test_relative_database_path_resolves_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    cfg = write(etc / "pbxbridge.toml", '[database]\nurl = "sqlite+aiosqlite:///data/x.db"\n')
    elsewhere = tmp_path / "agi-bin"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings, path = load_settings(cfg)
    assert path == cfg.resolve()
    assert settings.database.url == f"sqlite+aiosqlite:///{etc.resolve() / 'data' / 'x.db'}"


def test_environment_overrides_the_file_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(
        tmp_path / "p.toml",
        '[billing]\nbackend = "local"\ncredit_days = 7\n[agi]\nport = 5000\nhost = "0.0.0.0"\n',
    )
    monkeypatch.setenv("PBXBRIDGE_CONFIG", str(cfg))
    monkeypatch.setenv("PBXBRIDGE_AGI__PORT", "4600")
    monkeypatch.setenv("PBXBRIDGE_BILLING__BACKEND", "ubilling")
    monkeypatch.setenv("PBXBRIDGE_BILLING__URL", "http://billing.example/")
    monkeypatch.setenv("PBXBRIDGE_BILLING__KEY", "UBsecretsecret")
    monkeypatch.setenv("PBXBRIDGE_DATABASE__URL", "postgresql+asyncpg://u:pw@db/pbx")
    settings, _ = load_settings()
    assert settings.agi.port == 4600
    assert settings.agi.host == "0.0.0.0"  # kept from the file
    assert settings.billing.backend == "ubilling"
    assert settings.billing.credit_days == 7  # kept from the file
    assert settings.billing.key.get_secret_value() == "UBsecretsecret"
    assert "UBsecretsecret" not in repr(settings)
    assert settings.database.url == "postgresql+asyncpg://u:pw@db/pbx"
    assert "pw" not in settings.database.safe_url()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('timezone = "Mars/Olympus"', "timezone"),
        ('[billing]\nbackend = "bogus"', "billing.backend"),
        ('[billing]\nbackend = "ubilling"', "billing.url"),
        ('[agi]\nport = "many"', "agi.port"),
        ("[nosuchsection]\nx = 1", "nosuchsection"),
        ("this is not toml", "p.toml"),
    ],
)
def test_bad_configuration_names_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    cfg = write(tmp_path / "p.toml", text)
    with pytest.raises(SettingsError, match=expected.replace(".", r"\.")):
        load_settings(cfg)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_example_config_loads_and_documents_every_section(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / "pbxbridge.example.toml"
    settings, _ = load_settings(example)
    text = example.read_text(encoding="utf-8")
    for section in (
        "[database]",
        "[billing]",
        "[agi]",
        "[ami]",
        "[sms]",
        "[missed_calls]",
        "[telegram]",
        "[spool]",
        "[callback]",
        "[logging]",
    ):
        assert section in text
    assert settings.billing.backend == "local"


def _sections(model: type[BaseModel], prefix: str = "") -> dict[str, set[str]]:
    """Section name -> keys, for every settings class reachable from `model`."""
    out: dict[str, set[str]] = {prefix: set()}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(_sections(annotation, f"{prefix}.{name}" if prefix else name))
        else:
            out[prefix].add(name)
    return out


def test_example_config_documents_every_key() -> None:
    """Every setting appears in pbxbridge.example.toml (set, or commented out) in its section."""
    from pbxbridge.settings import Settings

    text = (Path(__file__).resolve().parents[2] / "pbxbridge.example.toml").read_text("utf-8")
    documented: dict[str, set[str]] = {"": set()}
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            documented.setdefault(section, set())
            continue
        key = stripped.lstrip("# ").split("=", 1)[0].strip()
        if "=" in stripped and key.isidentifier():
            documented[section].add(key)
    missing = {
        section: sorted(keys - documented.get(section, set()))
        for section, keys in _sections(Settings).items()
        if keys - documented.get(section, set())
    }
    assert missing == {}


def test_example_config_is_generated_from_the_code() -> None:
    from pbxbridge.example_config import render

    example = Path(__file__).resolve().parents[2] / "pbxbridge.example.toml"
    assert example.read_text("utf-8") == render(), (
        "regenerate: .venv/bin/python -m pbxbridge.example_config > pbxbridge.example.toml"
    )
