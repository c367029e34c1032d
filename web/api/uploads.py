"""Receiving a file upload: the body streamed to a private temporary folder, bounded.

A route declared with `uploads=UPLOAD_TYPES` and `max_body=UPLOAD` reads its body with
`receive`: as raw bytes (`Content-Type: audio/…` or `application/octet-stream`) or as
`multipart/form-data` with the file in a field named `file` (what `curl -F file=@x.mp3`
sends). The body is never held in memory whole: chunks go to disk through a worker thread.
Its size is checked while it arrives (a chunked body has no Content-Length for the limit
middleware to refuse), and its first bytes must be a known audio container
(callfile_spooler/sniff.py), else 415 before any converter runs.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from callfile_spooler.sniff import HEAD_BYTES, KNOWN, container
from web.errors import BadRequest, Invalid, PayloadTooLarge, UnsupportedMediaType

UPLOAD_TYPES = ("application/octet-stream", "multipart/form-data")
"""What the document lists; `audio/*` is read like application/octet-stream."""
FIELD = "file"
CHUNK = 256 * 1024
DEFAULT_NAME = "upload"
_SAFE_NAME = re.compile(r"[^\w.-]+")
"""Letters and digits of any script, `_ . -`: the rest becomes `_`."""
_UNREADABLE = (HttpProcessingError, ValueError, AssertionError, RuntimeError)
"""What aiohttp raises for a body it cannot parse (a malformed form, a cut or badly encoded
body): the client's fault, 400."""


@dataclass(frozen=True)
class Upload:
    path: Path
    """The file, named after the client's file name (made safe), in a private folder."""
    kind: str
    """Its container (sniff.KNOWN)."""
    size: int


def safe_name(filename: str | None) -> str:
    """The client's file name as a plain base name of safe characters (it is recorded and
    shown; it never chooses where anything is written). Percent-escapes are undone first:
    some clients escape the name (aiohttp all of it, browsers a `"`)."""
    base = re.split(r"[\\/]", unquote(filename or ""))[-1]
    cleaned = _SAFE_NAME.sub("_", base).strip("._")[:100]
    return cleaned or DEFAULT_NAME


class _Sink:
    """Chunks to a file in a worker thread, counted against the limit."""

    def __init__(self, fh: BinaryIO, limit: int) -> None:
        self.fh = fh
        self.limit = limit
        self.size = 0
        self.head = b""

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(f"request body too large (limit {self.limit:,} bytes)")
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        await asyncio.to_thread(self.fh.write, chunk)


async def _raw(request: web.Request, sink: _Sink) -> None:
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            await sink.write(chunk)
    except HttpProcessingError as exc:
        raise BadRequest(f"the body could not be read: {exc.message}") from None


def _said(exc: Exception) -> str:
    text = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
    return " ".join(str(text).split())[:200] or type(exc).__name__


async def _file_part(request: web.Request) -> BodyPartReader:
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == FIELD:
                return part
            if isinstance(part, BodyPartReader):
                await part.release()
    except _UNREADABLE as exc:
        raise BadRequest(f"not a readable multipart/form-data body: {_said(exc)}") from None
    raise Invalid(f"the form has no `{FIELD}` field", field=FIELD)


async def _multipart(part: BodyPartReader, sink: _Sink) -> None:
    try:
        while chunk := await part.read_chunk(CHUNK):
            await sink.write(chunk)
    except _UNREADABLE as exc:
        raise BadRequest(f"not a readable multipart/form-data body: {_said(exc)}") from None


@asynccontextmanager
async def receive(request: web.Request, limit: int) -> AsyncIterator[Upload]:
    """The uploaded file, for the `async with` block; deleted afterwards whatever happens.

    Raises UnsupportedMediaType (neither raw nor a form, or not a known audio container),
    Invalid (empty, or a form without `file`), PayloadTooLarge, BadRequest."""
    content_type = request.content_type
    multipart = content_type == "multipart/form-data"
    if not (
        multipart or content_type == "application/octet-stream" or content_type.startswith("audio/")
    ):
        raise UnsupportedMediaType(
            "send the file as the body (Content-Type audio/… or application/octet-stream) "
            f"or as multipart/form-data in a field named `{FIELD}`"
        )
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="pbxbridge-upload-"))
    try:
        part = await _file_part(request) if multipart else None
        name = safe_name(part.filename if part is not None else None)
        path = folder / name
        fh = await asyncio.to_thread(path.open, "wb")
        try:
            sink = _Sink(fh, limit)
            if part is not None:
                await _multipart(part, sink)
            else:
                await _raw(request, sink)
        finally:
            await asyncio.to_thread(fh.close)
        if sink.size == 0:
            raise Invalid("the file is empty", field=FIELD)
        kind = container(sink.head)
        if kind is None:
            raise UnsupportedMediaType(f"not an audio file this service takes ({', '.join(KNOWN)})")
        yield Upload(path, kind, sink.size)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
