"""Which audio container a file is, from its first bytes: the gate in front of ffmpeg for
audio that comes over the network (the API's upload).

ffmpeg reads hundreds of formats, and a file from the network should meet only the few a
campaign message comes in: anything else is refused before ffmpeg runs, cheaply (no
subprocess for a file that is not audio at all) and with a smaller attack surface (the
demuxers of exotic formats are where ffmpeg's bugs have been). Staff's own files (`pbxbridge
campaign audio`) are not gated.
"""

from __future__ import annotations

HEAD_BYTES = 12
"""How many leading bytes `container` needs."""

KNOWN = ("wav", "mp3", "ogg", "flac", "mp4", "aiff", "amr", "webm", "au", "wma")
"""Containers taken (mp4 covers m4a/aac and 3gp; ogg covers Vorbis and Opus)."""

_ASF = bytes.fromhex("3026b2758e66cf11")


def container(head: bytes) -> str | None:
    """The container `head` (a file's first HEAD_BYTES bytes) starts, or None."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"  # an ID3 tag, or an MPEG audio (or ADTS AAC) frame sync
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"  # Matroska/WebM: what browsers record
    if head[:4] == b".snd":
        return "au"
    if head[:8] == _ASF:
        return "wma"
    return None
