"""Which audio container a file is, from its first bytes: the gate in front of ffmpeg for
audio that comes over the network (the API's upload).

ffmpeg reads hundreds of formats, and a file from the network should meet only the few a
campaign message comes in: anything else is refused before ffmpeg runs, cheaply (no
subprocess for a file that is not audio at all) and with a smaller attack surface (the
demuxers of exotic formats are where ffmpeg's bugs have been). Staff's own files (`pbxbridge
campaign audio`) are not gated.
"""

from __future__ import annotations

from collections.abc import Callable

HEAD_BYTES = 12
"""How many leading bytes `container` needs."""

KNOWN = ("wav", "mp3", "ogg", "flac", "mp4", "aiff", "amr", "webm", "au", "wma")
"""Containers taken (mp4 covers m4a/aac and 3gp; ogg covers Vorbis and Opus)."""

_ASF = bytes.fromhex("3026b2758e66cf11")


def _is_mp3(head: bytes) -> bool:
    """An ID3 tag, or an MPEG audio (or ADTS AAC) frame sync."""
    return head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


_SIGNATURES: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("wav", lambda h: h[:4] in (b"RIFF", b"RF64") and h[8:12] == b"WAVE"),
    ("mp3", _is_mp3),
    ("ogg", lambda h: h[:4] == b"OggS"),
    ("flac", lambda h: h[:4] == b"fLaC"),
    ("mp4", lambda h: h[4:8] == b"ftyp"),
    ("aiff", lambda h: h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC")),
    ("amr", lambda h: h[:5] == b"#!AMR"),
    ("webm", lambda h: h[:4] == b"\x1a\x45\xdf\xa3"),  # Matroska/WebM: what browsers record
    ("au", lambda h: h[:4] == b".snd"),
    ("wma", lambda h: h[:8] == _ASF),
)
"""Each container and the test of a file's first bytes that tells it, in the order tried."""


def container(head: bytes) -> str | None:
    """The container `head` (a file's first HEAD_BYTES bytes) starts, or None."""
    return next((name for name, starts in _SIGNATURES if starts(head)), None)
