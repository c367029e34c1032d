"""Campaign messages: real mp3/ogg/wav made by ffmpeg here, converted to what Asterisk plays;
broken input, the conversion off the event loop, attaching to a campaign, the call files."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import threading
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from callfile_spooler import audio
from callfile_spooler.audio import CampaignAudio, convert, convert_file, prompt_base
from callfile_spooler.campaigns import CampaignSettings
from callfile_spooler.errors import AudioError, CampaignError
from callfile_spooler.imports import parse_numbers
from callfile_spooler.settings import CallbackSettings, SpoolSettings
from callfile_spooler.spooler import Spooler
from pbxbridge.cli.audio import audio as audio_command
from pbxbridge.cli.campaign import campaign
from pbxbridge.cli.common import CliState
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.callfile_spooler.conftest import make_spooler
from tests.conftest import Database

SECONDS = 1.0
FORMATS = ["wav", "sln", "gsm", "ulaw", "alaw"]


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        message = "pbxbridge needs ffmpeg for audio prompts: apt-get install ffmpeg"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def make_audio(ffmpeg: str, path: Path, *options: str) -> Path:
    """A 1 s 440 Hz tone in whatever format `path`'s extension says."""
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency=440:duration={SECONDS:g}", *options, str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def sources(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    return {
        "mp3": make_audio(ffmpeg, folder / "tone.mp3", "-ar", "44100", "-ac", "2"),
        "ogg": make_audio(ffmpeg, folder / "tone.ogg", "-ar", "48000", "-ac", "2"),
        "wav": make_audio(ffmpeg, folder / "tone.wav", "-ar", "22050", "-c:a", "pcm_s24le"),
    }


def wav_header(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes() / 8000


@pytest.mark.parametrize("kind", ["mp3", "ogg", "wav"])
def test_real_audio_becomes_8khz_mono_16bit(
    sources: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    base = tmp_path / "sounds" / "campaign-7"
    prompt = convert_file(sources[kind], base, FORMATS)
    rate, channels, width, duration = wav_header(base.with_suffix(".wav"))
    assert (rate, channels, width) == (8000, 1, 2)
    assert duration == pytest.approx(SECONDS, abs=0.03)
    assert prompt.duration == pytest.approx(duration, abs=0.002)
    assert prompt.formats == tuple(FORMATS)
    frames = round(duration * 8000)
    sizes = {f: (base.parent / f"campaign-7.{f}").stat().st_size for f in FORMATS}
    assert sizes["sln"] == 2 * frames  # the same samples, raw
    assert sizes["ulaw"] == sizes["alaw"] == frames  # a byte a sample
    assert sizes["gsm"] == 33 * math.ceil(frames / 160)  # 33-byte frames of 20 ms
    assert sorted(os.listdir(base.parent)) == [f"campaign-7.{f}" for f in sorted(FORMATS)]
    assert all((base.parent / f"campaign-7.{f}").stat().st_mode & 0o777 == 0o644 for f in FORMATS)


def test_the_same_sound_has_the_same_digest(sources: dict[str, Path], tmp_path: Path) -> None:
    one = convert_file(sources["mp3"], tmp_path / "a")
    two = convert_file(sources["mp3"], tmp_path / "b")
    other = convert_file(sources["ogg"], tmp_path / "c")
    assert one.sha256 == two.sha256 != other.sha256


def test_a_format_no_longer_configured_is_removed(sources: dict[str, Path], tmp_path: Path) -> None:
    base = tmp_path / "campaign-1"
    convert_file(sources["mp3"], base, ["wav", "gsm", "ulaw"])
    convert_file(sources["ogg"], base, ["wav"])
    assert sorted(os.listdir(tmp_path)) == ["campaign-1.wav"]


@pytest.mark.parametrize(
    ("content", "name", "says"),
    [
        (b"", "empty.mp3", "the file is empty"),
        (b"ID3 this is not an mp3 at all " * 40, "noise.mp3", "not audio that ffmpeg can read"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt garbage", "broken.wav", "not audio that ffmpeg can read"),
        ("Привіт, це текст".encode() * 50, "text.ogg", "not audio that ffmpeg can read"),
    ],
)
def test_broken_audio_is_a_clear_error_and_changes_nothing(
    ffmpeg: str, sources: dict[str, Path], tmp_path: Path, content: bytes, name: str, says: str
) -> None:
    base = tmp_path / "sounds" / "campaign-3"
    convert_file(sources["wav"], base)
    before = base.with_suffix(".wav").read_bytes()
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(AudioError, match=says) as caught:
        convert_file(bad, base, FORMATS)
    assert str(caught.value).startswith(f"{name}: ")
    assert "Traceback" not in str(caught.value)
    assert "\n" not in str(caught.value)
    assert base.with_suffix(".wav").read_bytes() == before
    assert sorted(os.listdir(base.parent)) == ["campaign-3.wav"]  # no temp files left


def test_missing_file_and_missing_ffmpeg(
    sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(AudioError, match="no such file"):
        convert_file(tmp_path / "nope.mp3", tmp_path / "campaign-1")
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg, no ffprobe
    with pytest.raises(AudioError) as caught:
        convert_file(sources["mp3"], tmp_path / "campaign-1")
    assert str(caught.value) == "pbxbridge needs ffmpeg for audio prompts: apt-get install ffmpeg"


def test_an_unwritable_sounds_dir_is_a_clear_error(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AudioError, match=r"cannot create .*spool.sounds_dir"):
        convert_file(sources["mp3"], blocker / "campaign-1")


async def test_conversion_runs_off_the_event_loop(
    sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversion waits for the loop to run another task first: were it on the loop,
    that task could never run and the wait would time out."""
    loop_ran = threading.Event()
    threads: list[threading.Thread] = []
    order: list[str] = []
    real = audio.convert_file

    def gated(source: Path, base: Path, formats: list[str]) -> audio.Prompt:
        threads.append(threading.current_thread())
        assert loop_ran.wait(5), "the event loop did not run while converting"
        order.append("converting")
        return real(source, base, formats)

    monkeypatch.setattr(audio, "convert_file", gated)

    async def other_task() -> None:
        order.append("other task")
        loop_ran.set()

    converting = asyncio.create_task(convert(sources["ogg"], tmp_path / "campaign-1", ["wav"]))
    await asyncio.sleep(0)  # the conversion has started
    await other_task()
    prompt = await converting
    order.append("converted")
    assert order == ["other task", "converting", "converted"]
    assert len(threads) == 1
    assert threads[0] is not threading.main_thread()
    assert prompt.duration == pytest.approx(SECONDS, abs=0.03)


# ------------------------------------------------------------------ campaigns


async def test_attach_to_a_campaign_and_its_calls_carry_the_message(
    db: Database,
    clock: FixedClock,
    settings: SpoolSettings,
    phones: PhoneNormaliser,
    sources: dict[str, Path],
    tmp_path: Path,
) -> None:
    sounds = tmp_path / "sounds"
    settings = settings.model_copy(update={"sounds_dir": sounds, "audio_formats": ["wav", "gsm"]})
    spooler = make_spooler(db, clock, settings, phones)
    from callfile_spooler.calls import CallDialer

    spooler.dialer = CallDialer(settings, phones, CallbackSettings())
    info = await spooler.campaigns.create("promo", CampaignSettings(cps=100))
    messages = CampaignAudio(db.sessions, clock, settings)
    assert await messages.get("promo") is None
    attached = await messages.attach("promo", sources["mp3"])
    assert attached.prompt == prompt_base(sounds, info.id) == sounds / f"campaign-{info.id}"
    assert attached.formats == ("wav", "gsm")
    assert sorted(os.listdir(sounds)) == [f"campaign-{info.id}.gsm", f"campaign-{info.id}.wav"]
    got = await messages.get("promo")
    assert got is not None
    assert (got.prompt, got.formats, got.source) == (attached.prompt, ("wav", "gsm"), "tone.mp3")
    assert got.duration == pytest.approx(SECONDS, abs=0.03)
    assert got.attached_at == clock.now()
    assert "tone.mp3" in got.describe()

    await spooler.campaigns.import_numbers("promo", parse_numbers("number\n0501234567\n", phones))
    await spooler.campaigns.start("promo")
    assert (await spooler.tick()).spooled == 1
    (name,) = os.listdir(settings.outgoing_dir)
    assert (settings.outgoing_dir / name).read_bytes() == (
        "Channel: Local/0501234567@pbxbridge-dial\n"
        "MaxRetries: 0\n"
        "WaitTime: 45\n"
        "Context: pbxbridge-campaign\n"
        "Extension: s\n"
        "Priority: 1\n"
        f"Setvar: CAMPAIGN_ID={info.id}\n"
        "Setvar: CAMPAIGN_ATTEMPT_ID=1\n"
        "Setvar: CAMPAIGN_NUMBER=+380501234567\n"
        f"Setvar: CAMPAIGN_MESSAGE={sounds}/campaign-{info.id}\n"
        "Archive: yes\n"
    ).encode()


async def test_attach_refuses_what_is_no_campaign(
    db: Database, clock: FixedClock, settings: SpoolSettings, sources: dict[str, Path]
) -> None:
    messages = CampaignAudio(db.sessions, clock, settings)
    with pytest.raises(CampaignError, match="no campaign 'nope'"):
        await messages.attach("nope", sources["mp3"])
    spooler: Spooler = make_spooler(db, clock, settings)
    await spooler.campaigns.create("callback-1", kind="callback")
    with pytest.raises(CampaignError, match="is a callback, not a campaign"):
        await messages.attach("callback-1", sources["mp3"])


def test_cli_campaign_audio(
    config_with_sounds: Path, sources: dict[str, Path], tmp_path: Path, clock: FixedClock
) -> None:
    obj = CliState(config=config_with_sounds, clock=clock)

    def pbx(*args: str) -> Result:
        return CliRunner().invoke(campaign, list(args), obj=obj)

    def audio_cli(*args: str) -> Result:
        return CliRunner().invoke(audio_command, list(args), obj=obj)

    assert pbx("create", "promo").exit_code == 0
    shown = audio_cli("promo")
    assert (shown.exit_code, shown.output) == (0, "promo: no message yet\n")
    done = audio_cli("promo", str(sources["ogg"]))
    assert done.exit_code == 0, done.output
    sounds = tmp_path / "sounds"  # relative in the config: next to it
    assert done.output == f"promo: message {sounds}/campaign-1 (wav), 1.0 s, from tone.ogg\n"
    assert wav_header(sounds / "campaign-1.wav")[:3] == (8000, 1, 2)
    assert audio_cli("promo").output == done.output
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00" * 100)
    broken = audio_cli("promo", str(bad))
    assert broken.exit_code == 1
    assert broken.output.startswith("Error: bad.mp3: not audio that ffmpeg can read")
    missing = audio_cli("nope", str(sources["ogg"]))
    assert (missing.exit_code, missing.output) == (1, "Error: no campaign 'nope'\n")

    # Deleted, its message goes at once: the next campaign gets id 1 again and must not
    # play it.
    assert pbx("delete", "promo", "--yes").exit_code == 0
    assert not (sounds / "campaign-1.wav").exists()
    assert pbx("create", "next").exit_code == 0
    assert audio_cli("next").output == "next: no message yet\n"


@pytest.fixture
def config_with_sounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_BILLING__BACKEND", "PBXBRIDGE_SPOOL__SOUNDS_DIR"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pbxbridge.toml"
    path.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///state/pbx.db"\n\n[spool]\nsounds_dir = "sounds"\n',
        encoding="utf-8",
    )
    (tmp_path / "state").mkdir()

    async def upgrade() -> None:
        from storage import DatabaseSettings, create_engine, migrate
        from tests.callfile_spooler.conftest import VERSION_LOCATIONS

        engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/state/pbx.db"))
        try:
            await migrate.upgrade(engine, VERSION_LOCATIONS)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())
    return path


async def test_a_deleted_campaign_s_message_is_pruned(
    db: Database,
    clock: FixedClock,
    settings: SpoolSettings,
    sources: dict[str, Path],
    tmp_path: Path,
) -> None:
    sounds = tmp_path / "sounds"
    settings = settings.model_copy(update={"sounds_dir": sounds})
    spooler = make_spooler(db, clock, settings)
    messages = CampaignAudio(db.sessions, clock, settings)
    await spooler.campaigns.create("old")
    await spooler.campaigns.create("kept")
    await messages.attach("old", sources["mp3"])
    await messages.attach("kept", sources["mp3"])
    (sounds / "other-file.wav").write_bytes(b"not ours")
    await spooler.campaigns.delete("old")
    assert await messages.prune() == ["campaign-1.wav"]
    assert sorted(os.listdir(sounds)) == ["campaign-2.wav", "other-file.wav"]
    assert await messages.prune() == []


def test_sounds_dir_must_fit_a_call_file() -> None:
    with pytest.raises(ValueError, match="sounds_dir"):
        SpoolSettings(sounds_dir=Path("/var/lib/asterisk/" + "x" * 200))
    with pytest.raises(ValueError, match="refused"):
        SpoolSettings(sounds_dir=Path("/var/lib/asterisk/a;b"))
    with pytest.raises(ValueError, match="choose from"):
        SpoolSettings(audio_formats=["wav", "mp3"])
    resolved = SpoolSettings(dir=Path("spool"), sounds_dir=Path("sounds")).resolved(Path("/etc/x"))
    assert (resolved.dir, resolved.sounds_dir) == (Path("/etc/x/spool"), Path("/etc/x/sounds"))
