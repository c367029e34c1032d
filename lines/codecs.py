"""Codec names a line may allow: Asterisk's format names (`core show codecs`)."""

from __future__ import annotations

import re

from lines.errors import BadValue

CODECS = frozenset(
    {
        "ulaw", "alaw", "gsm", "g722", "g723", "g726", "g726aal2", "g729", "ilbc", "lpc10",
        "adpcm", "speex", "speex16", "speex32", "slin", "slin16", "opus", "silk8", "silk12",
        "silk16", "silk24", "siren7", "siren14", "h261", "h263", "h263p", "h264", "h265",
        "vp8", "vp9", "mpeg4", "t140", "t140red",
    }
)  # fmt: skip
_SPLIT = re.compile(r"[\s,]+")


def check_codecs(text: str) -> tuple[str, ...]:
    """`ulaw,alaw` (commas or spaces, any case) as a clean tuple in the order given;
    BadValue for an unknown name or an empty list."""
    names: list[str] = []
    for name in _SPLIT.split(text.strip().lower()):
        if not name:
            continue
        if name not in CODECS:
            raise BadValue(f"codecs: unknown codec {name[:20]!r} (e.g. ulaw, alaw, g722, opus)")
        if name not in names:
            names.append(name)
    if not names:
        raise BadValue("codecs: no codec given (e.g. ulaw,alaw)")
    return tuple(names)
