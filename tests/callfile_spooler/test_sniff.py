"""The container gate in front of ffmpeg: real files made by ffmpeg are recognised by their
first bytes; text, images and archives are not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from callfile_spooler.sniff import HEAD_BYTES, container

MADE = {
    "tone.wav": "wav",
    "tone.mp3": "mp3",
    "tone.ogg": "ogg",
    "tone.opus": "ogg",
    "tone.flac": "flac",
    "tone.m4a": "mp4",
    "tone.aiff": "aiff",
    "tone.webm": "webm",
    "tone.au": "au",
}


def test_real_audio_files_are_recognised(tmp_path: Path) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        if os.environ.get("CI"):
            pytest.fail("pbxbridge needs ffmpeg for audio prompts: apt-get install ffmpeg")
        pytest.skip("no ffmpeg")
    for name, kind in MADE.items():
        path = tmp_path / name
        subprocess.run(
            [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             "sine=frequency=440:duration=0.2", str(path)],
            check=True,
        )  # fmt: skip
        assert container(path.read_bytes()[:HEAD_BYTES]) == kind, name


def test_what_is_not_audio_is_not_taken() -> None:
    for head in (
        b"",
        b"hello, world",
        b"<html><body>",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\r",
        b"PK\x03\x04\x14\x00\x00\x00",
        b"%PDF-1.7\n%\xe2\xe3",
        b"RIFF\x00\x00\x00\x00AVI ",  # RIFF, but a video
        b"\xff",  # one byte of a frame sync is not a frame
    ):
        assert container(head) is None, head
