"""Which config file is read, and the project folder's file `make run` writes.

The search is `--config`, $PBXBRIDGE_CONFIG, ./pbxbridge.toml, /etc/pbxbridge/pbxbridge.toml;
here the system file is one under tmp_path (CONFIG_CANDIDATES pointed there), so the
machine's own /etc never takes part.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pbxbridge import settings as settings_module
from pbxbridge.cli.main import cli
from pbxbridge.example_config import render
from pbxbridge.settings import LOCAL_CONFIG, SettingsError, config_path, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PBXBRIDGE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in for /etc/pbxbridge/pbxbridge.toml (not created here)."""
    path = tmp_path / "etc" / "pbxbridge" / "pbxbridge.toml"
    path.parent.mkdir(parents=True)
    monkeypatch.setattr(settings_module, "CONFIG_CANDIDATES", (LOCAL_CONFIG, path))
    return path


def port_file(path: Path, port: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[agi]\nport = {port}\n", encoding="utf-8")
    return path


# Each file sets its own agi.port, so the port says which one was read.
EXPLICIT, ENVIRONMENT, LOCAL, SYSTEM, DEFAULT = 5001, 5002, 5003, 5004, 4573


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ({"explicit", "environment", "local", "system"}, EXPLICIT),
        ({"environment", "local", "system"}, ENVIRONMENT),
        ({"local", "system"}, LOCAL),
        ({"system"}, SYSTEM),
        (set(), DEFAULT),
    ],
)
def test_search_order(
    tmp_path: Path,
    system: Path,
    monkeypatch: pytest.MonkeyPatch,
    present: set[str],
    expected: int,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    files = {
        "explicit": tmp_path / "given.toml",
        "environment": tmp_path / "env" / "named.toml",
        "local": project / "pbxbridge.toml",
        "system": system,
    }
    ports = {"explicit": EXPLICIT, "environment": ENVIRONMENT, "local": LOCAL, "system": SYSTEM}
    for name in present:
        port_file(files[name], ports[name])
    if "environment" in present:
        monkeypatch.setenv("PBXBRIDGE_CONFIG", str(files["environment"]))
    explicit = files["explicit"] if "explicit" in present else None

    settings, path = load_settings(explicit)

    assert settings.agi.port == expected
    read = [name for name, port in ports.items() if port == expected]
    assert path == (files[read[0]].resolve() if read else None)


def test_the_local_file_is_looked_for_in_the_working_directory_at_each_lookup(
    tmp_path: Path, system: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    port_file(one / "pbxbridge.toml", 5011)
    port_file(two / "pbxbridge.toml", 5012)
    monkeypatch.chdir(one)
    assert config_path(None) == (one / "pbxbridge.toml").resolve()
    monkeypatch.chdir(two)
    found = config_path(None)
    assert found == (two / "pbxbridge.toml").resolve()
    assert found.is_absolute()


def test_a_folder_named_pbxbridge_toml_is_no_config(
    tmp_path: Path, system: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pbxbridge.toml").mkdir()
    port_file(system, SYSTEM)
    monkeypatch.chdir(tmp_path)
    assert config_path(None) == system.resolve()


def test_named_files_must_exist_and_are_not_replaced_by_the_search(
    tmp_path: Path, system: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing --config or $PBXBRIDGE_CONFIG is an error, never a silent fall-back to
    ./pbxbridge.toml or /etc: the operator asked for that file."""
    port_file(tmp_path / "pbxbridge.toml", LOCAL)
    port_file(system, SYSTEM)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        SettingsError, match=re.escape(f"config file not found: {tmp_path / 'nope.toml'}")
    ):
        load_settings(tmp_path / "nope.toml")
    monkeypatch.setenv("PBXBRIDGE_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(
        SettingsError, match=re.escape(f"config file not found: {tmp_path / 'gone.toml'}")
    ):
        load_settings()


@pytest.mark.parametrize("which", ["local", "system"])
def test_environment_overrides_the_file_found_by_the_search(
    tmp_path: Path, system: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    found = port_file(tmp_path / "pbxbridge.toml" if which == "local" else system, 5020)
    with found.open("a", encoding="utf-8") as out:
        out.write('host = "127.0.0.2"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PBXBRIDGE_AGI__PORT", "5021")
    settings, path = load_settings()
    assert path == found.resolve()
    assert settings.agi.port == 5021  # the variable wins
    assert settings.agi.host == "127.0.0.2"  # the rest is the file's


def pbx(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_config_init_writes_the_example_with_local_folders(tmp_path: Path, system: Path) -> None:
    target = tmp_path / "project" / "pbxbridge.toml"
    target.parent.mkdir()
    said = ok(pbx("config", "init", str(target)))
    assert str(target.parent / "var") in said
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # the billing key goes here

    settings, path = load_settings(target)
    var = target.parent.resolve() / "var"
    assert path == target.resolve()
    assert settings.spool.dir == var / "spool" / "asterisk"
    assert settings.spool.sounds_dir == var / "lib" / "asterisk" / "sounds" / "pbxbridge-campaigns"
    assert settings.database.url == f"sqlite+aiosqlite:///{var / 'pbxbridge.db'}"
    assert settings.lines.pjsip_file == var / "etc" / "asterisk" / "pjsip_pbxbridge.conf"

    # Everything else is the example's: same keys, same values, same comments.
    written = target.read_text("utf-8").splitlines()
    example = render().splitlines()
    local_keys = ("dir =", "sounds_dir =", "pjsip_file =")
    changed = {line for line in written if line.startswith(local_keys)}
    assert changed == {
        'dir = "var/spool/asterisk"',
        'sounds_dir = "var/lib/asterisk/sounds/pbxbridge-campaigns"',
        'pjsip_file = "var/etc/asterisk/pjsip_pbxbridge.conf"',
    }
    body = [line for line in written if not line.startswith("#") and line not in changed]
    example_body = [
        line for line in example if not line.startswith("#") and not line.startswith(local_keys)
    ]
    assert body == example_body


def test_config_init_defaults_to_the_working_directory(
    tmp_path: Path, system: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ok(pbx("config", "init"))
    assert (tmp_path / "pbxbridge.toml").is_file()
    assert config_path(None) == (tmp_path / "pbxbridge.toml").resolve()


def test_config_init_never_overwrites(tmp_path: Path, system: Path) -> None:
    target = tmp_path / "pbxbridge.toml"
    target.write_text('[billing]\nbackend = "ubilling"\n', encoding="utf-8")
    result = pbx("config", "init", str(target))
    assert result.exit_code == 1
    assert f"{target} exists and is left as it is" in result.output
    assert target.read_text("utf-8") == '[billing]\nbackend = "ubilling"\n'

    # Nor through a link, even one pointing at nothing yet.
    aimed = tmp_path / "elsewhere.toml"
    link = tmp_path / "link.toml"
    link.symlink_to(aimed)
    assert pbx("config", "init", str(link)).exit_code == 1
    assert not aimed.exists()


def test_config_init_into_a_missing_folder_is_a_clear_error(tmp_path: Path, system: Path) -> None:
    result = pbx("config", "init", str(tmp_path / "no" / "such" / "pbxbridge.toml"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot create ")
    assert "Traceback" not in result.output


@pytest.fixture
def project(tmp_path: Path, system: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What `make run` leaves: config init, the spool's outgoing/, db upgrade. The test
    then is the second terminal in that folder: no --config, no environment."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    ok(pbx("config", "init"))
    (folder / "var" / "spool" / "asterisk" / "outgoing").mkdir(parents=True)
    ok(pbx("--config", "pbxbridge.toml", "db", "upgrade"))
    return folder


def test_check_from_the_project_folder_sees_what_make_run_sees(project: Path) -> None:
    checked = ok(pbx("check"))
    assert str(project / "pbxbridge.toml") in checked
    assert str(project / "var" / "pbxbridge.db") in checked
    assert str(project / "var" / "spool" / "asterisk") in checked


def test_campaign_audio_from_the_project_folder_writes_where_the_service_looks(
    project: Path, tmp_path: Path
) -> None:
    if shutil.which("ffmpeg") is None:
        message = "pbxbridge needs ffmpeg for audio prompts: apt-get install ffmpeg"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    source = tmp_path / "message.wav"
    with wave.open(str(source), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10" * 8000)
    ok(pbx("campaign", "create", "promo"))
    ok(pbx("campaign", "audio", "promo", str(source)))
    sounds = project / "var" / "lib" / "asterisk" / "sounds" / "pbxbridge-campaigns"
    assert sorted(p.name for p in sounds.iterdir()) == ["campaign-1.wav"]
