"""Campaign messages: any audio ffmpeg can read, converted with pydub into what Asterisk plays.

`pbxbridge campaign audio NAME FILE` turns an uploaded mp3/ogg/wav/… into an 8 kHz mono
16-bit WAV (plus the other `spool.audio_formats`) at `<spool.sounds_dir>/campaign-<id>`,
the path every call file of the campaign carries as `CAMPAIGN_MESSAGE` (see
`calls.CallDialer`); the campaign contexts play it. The path depends on the campaign id
alone, so a call file never names a file that is not the campaign's current message.

Replacing a message while calls play the old one is safe: each format is written beside
its final name and renamed over it (a call holding the old file open keeps reading the old
one), and formats no longer configured are deleted so Asterisk cannot pick a stale one.

Decoding and encoding block (ffmpeg runs as a subprocess, pydub resamples in Python):
`convert` runs them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from callfile_spooler.errors import AudioError, AudioUnavailable, CampaignError
from callfile_spooler.models import Campaign
from callfile_spooler.settings import AUDIO_FORMATS, SpoolSettings
from primitives.clock import Clock, as_utc
from storage import Base

if TYPE_CHECKING:
    from pydub import AudioSegment

SAMPLE_RATE = 8000
MAX_SECONDS = 600
"""Longest message taken (decoding stops just past it, so a huge file costs no memory)."""
MAX_BYTES = 200 * 1024 * 1024
FILE_MODE = 0o644
FFMPEG_MISSING = "pbxbridge needs ffmpeg for audio prompts: apt-get install ffmpeg"

_FFMPEG_OUTPUTS: dict[str, tuple[str, str]] = {
    "gsm": ("gsm", "libgsm"),
    "ulaw": ("mulaw", "pcm_mulaw"),
    "alaw": ("alaw", "pcm_alaw"),
}
"""Asterisk format → (ffmpeg muxer, encoder); wav and sln are written without ffmpeg."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """A converted message: `base` is what Playback() takes (the path without extension)."""

    base: Path
    formats: tuple[str, ...]
    duration: float
    """Seconds."""
    sha256: str
    """Of the 8 kHz samples: the same sound uploaded twice has the same digest."""

    def files(self) -> list[Path]:
        return [self.base.with_name(f"{self.base.name}.{f}") for f in self.formats]


def prompt_base(sounds_dir: Path, campaign_id: int) -> Path:
    """Where campaign `campaign_id`'s message lives (without extension)."""
    return sounds_dir / f"campaign-{campaign_id}"


_MESSAGE_FILE = re.compile(rf"campaign-(?P<id>\d+)\.(?:{'|'.join(AUDIO_FORMATS)})")


def prune_files(sounds_dir: Path, keep: set[int]) -> list[str]:
    """Delete the message files of campaigns not in `keep`; the names deleted. Blocks."""
    try:
        entries = list(os.scandir(sounds_dir))
    except FileNotFoundError:
        return []
    gone = []
    for entry in entries:
        match = _MESSAGE_FILE.fullmatch(entry.name)
        if match and int(match.group("id")) not in keep and entry.is_file():
            Path(entry.path).unlink(missing_ok=True)
            gone.append(entry.name)
    return sorted(gone)


@dataclass(frozen=True, slots=True)
class _Pydub:
    segment: type[AudioSegment]
    decode_error: type[Exception]
    encode_error: type[Exception]


def _pydub() -> _Pydub:
    """pydub's AudioSegment and errors, imported on first use: pydub warns at import
    when ffmpeg is missing (checked before, and said better) and Python 3.11 warns that its
    audioop is deprecated (it is there until 3.13; pydub then needs audioop-lts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        from pydub import AudioSegment
        from pydub.exceptions import CouldntDecodeError, CouldntEncodeError

    return _Pydub(AudioSegment, CouldntDecodeError, CouldntEncodeError)


def _require_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise AudioUnavailable(FFMPEG_MISSING)


def _ffmpeg_says(error: BaseException) -> str:
    """The last line ffmpeg printed (pydub puts its whole stderr in the message)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(error).__name__


def _decode(source: Path) -> AudioSegment:
    if not source.is_file():
        raise AudioError(f"{source}: no such file")
    size = source.stat().st_size
    if size == 0:
        raise AudioError(f"{source.name}: the file is empty")
    if size > MAX_BYTES:
        raise AudioError(f"{source.name}: {size} bytes; the limit is {MAX_BYTES}")
    _require_ffmpeg()
    pydub = _pydub()
    try:
        return pydub.segment.from_file(str(source), duration=MAX_SECONDS + 1)
    except FileNotFoundError as exc:  # ffmpeg went away, or the file did
        raise AudioError(f"{source.name}: {exc}") from None
    except pydub.decode_error as exc:
        raise AudioError(
            f"{source.name}: not audio that ffmpeg can read ({_ffmpeg_says(exc)})"
        ) from None
    except (IndexError, KeyError, ValueError, EOFError) as exc:
        # pydub reads ffprobe's report; a file with no audio stream has none to read
        raise AudioError(
            f"{source.name}: not audio that ffmpeg can read (no audio stream: {type(exc).__name__})"
        ) from None


def _temp_beside(final: Path) -> Path:
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")


def _encode(segment: AudioSegment, fmt: str, target: Path) -> None:
    if fmt == "wav":
        segment.export(str(target), format="wav")
    elif fmt == "sln":
        target.write_bytes(segment.raw_data)
    else:
        muxer, codec = _FFMPEG_OUTPUTS[fmt]
        try:
            segment.export(
                str(target),
                format=muxer,
                codec=codec,
                parameters=["-ar", str(SAMPLE_RATE), "-ac", "1"],
            )
        except _pydub().encode_error as exc:
            raise AudioUnavailable(f"ffmpeg cannot write {fmt}: {_ffmpeg_says(exc)}") from None
    os.chmod(target, FILE_MODE)


def convert_file(source: Path, base: Path, formats: Sequence[str] = ("wav",)) -> Prompt:
    """Convert `source` into `<base>.wav` and `<base>.<fmt>` for the other `formats`.

    Blocks (use `convert` from async code). Raises AudioError; on error nothing at `base`
    has changed.
    """
    unknown = [f for f in formats if f not in AUDIO_FORMATS]
    if unknown:
        raise AudioError(f"unknown audio formats {unknown}: choose from {AUDIO_FORMATS}")
    wanted = ("wav", *dict.fromkeys(f for f in formats if f != "wav"))
    segment = _decode(source)
    segment = segment.set_channels(1).set_frame_rate(SAMPLE_RATE).set_sample_width(2)
    if len(segment) == 0:
        raise AudioError(f"{source.name}: there is no sound in it")
    if len(segment) > MAX_SECONDS * 1000:
        raise AudioError(f"{source.name}: longer than {MAX_SECONDS // 60} minutes")
    _write_formats(segment, base, wanted)
    return Prompt(
        base=base,
        formats=wanted,
        duration=len(segment) / 1000,
        sha256=hashlib.sha256(segment.raw_data).hexdigest(),
    )


def _write_formats(segment: AudioSegment, base: Path, wanted: Sequence[str]) -> None:
    """`<base>.<fmt>` for each wanted format, all or none: each is encoded beside its
    final name and renamed only once every one is written. Formats not wanted go (Asterisk
    would play a stale one)."""
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioUnavailable(f"cannot create {base.parent} (spool.sounds_dir): {exc}") from None
    written: dict[str, Path] = {}
    try:
        for fmt in wanted:
            temp = _temp_beside(base.with_name(f"{base.name}.{fmt}"))
            written[fmt] = temp
            _encode(segment, fmt, temp)
        for fmt, temp in written.items():
            os.replace(temp, base.with_name(f"{base.name}.{fmt}"))
    except OSError as exc:
        raise AudioUnavailable(
            f"cannot write into {base.parent} (spool.sounds_dir): {exc}"
        ) from None
    finally:
        for temp in written.values():
            temp.unlink(missing_ok=True)
    for fmt in AUDIO_FORMATS:
        if fmt not in wanted:
            base.with_name(f"{base.name}.{fmt}").unlink(missing_ok=True)


async def convert(source: Path, base: Path, formats: Sequence[str] = ("wav",)) -> Prompt:
    """`convert_file` in a worker thread: the event loop goes on meanwhile."""
    return await asyncio.to_thread(convert_file, source, base, formats)


# --------------------------------------------------------------------- attached messages


class CampaignAudioRow(Base):
    """The message attached to a campaign (the files are at `prompt_base(…, campaign_id)`)."""

    __tablename__ = "spool_campaign_audio"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("spool_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    prompt: Mapped[str] = mapped_column(String(255))
    formats: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255))
    duration_ms: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    attached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class AudioInfo:
    campaign: str
    prompt: Path
    formats: tuple[str, ...]
    source: str
    duration: float
    sha256: str
    attached_at: datetime

    def describe(self) -> str:
        return (
            f"{self.campaign}: message {self.prompt} ({', '.join(self.formats)}), "
            f"{self.duration:.1f} s, from {self.source}"
        )


class CampaignAudio:
    """Attaching messages to campaigns (what the CLI and later the web admin call)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: SpoolSettings,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings

    async def _campaign(self, session: AsyncSession, name: str) -> Campaign:
        row = await session.scalar(select(Campaign).where(Campaign.name == name))
        if row is None:
            raise CampaignError(f"no campaign {name!r}")
        if row.kind != "campaign":
            raise CampaignError(f"{name!r} is a {row.kind}, not a campaign: it plays no message")
        return row

    async def attach(self, name: str, source: Path) -> AudioInfo:
        """Convert `source` and make it campaign `name`'s message (calls from now on play
        it). Raises CampaignError or AudioError."""
        async with self.sessions() as session:
            campaign_id = (await self._campaign(session, name)).id
        prompt = await convert(
            source, prompt_base(self.settings.sounds_dir, campaign_id), self.settings.audio_formats
        )
        now = self.clock.now()
        async with self.sessions.begin() as session:
            row = await session.get(CampaignAudioRow, campaign_id)
            if row is None:
                row = CampaignAudioRow(campaign_id=campaign_id)
                session.add(row)
            row.prompt = str(prompt.base)[:255]
            row.formats = ",".join(prompt.formats)
            row.source = source.name[:255]
            row.duration_ms = round(prompt.duration * 1000)
            row.sha256 = prompt.sha256
            row.attached_at = now
        await self.prune()
        return AudioInfo(
            name, prompt.base, prompt.formats, source.name, prompt.duration, prompt.sha256, now
        )

    async def prune(self) -> list[str]:
        """Delete the files of messages no campaign has any more: a deleted campaign's row
        here goes with it, its files stay until now. Run it at start-up and after deleting
        campaigns, so a new campaign that gets a deleted one's id (SQLite reuses the
        highest) does not play its message."""
        async with self.sessions() as session:
            keep = set(await session.scalars(select(CampaignAudioRow.campaign_id)))
        return await asyncio.to_thread(prune_files, self.settings.sounds_dir, keep)

    async def get(self, name: str) -> AudioInfo | None:
        async with self.sessions() as session:
            campaign = await self._campaign(session, name)
            row = await session.get(CampaignAudioRow, campaign.id)
        if row is None:
            return None
        return AudioInfo(
            name,
            Path(row.prompt),
            tuple(row.formats.split(",")),
            row.source,
            row.duration_ms / 1000,
            row.sha256,
            as_utc(row.attached_at),
        )
