"""`PUT /api/v1/campaigns/{id}/audio`: real audio made by ffmpeg, uploaded raw and as a form,
converted as `pbxbridge campaign audio` converts it; what is not audio, too big, unreadable,
or cannot be converted by this service is a 4xx or a 503, never a 500."""

from __future__ import annotations

import os
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from primitives.clock import FixedClock
from tests.conftest import Database
from tests.web.apiclient import Api
from tests.web.conftest import web_rig
from web.api.uploads import safe_name
from web.tokens import Scope


def form(data: bytes, filename: str, field: str = "file") -> aiohttp.FormData:
    upload = aiohttp.FormData()
    upload.add_field(field, data, filename=filename, content_type="audio/mpeg")
    return upload


async def test_upload_raw_and_as_a_form(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any, tone: bytes
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token(Scope.CAMPAIGNS))
        await api.post("/campaigns", 201, json={"name": "promo"})
        raw = await api.call(
            "PUT", "/campaigns/1/audio", 200, data=tone, headers={"Content-Type": "audio/mpeg"}
        )
        message = raw.body
        assert (message["source"], message["formats"]) == ("upload", ["wav"])
        assert message["duration"] == pytest.approx(1.0, abs=0.05)
        with wave.open(str(tmp_path / "sounds" / "campaign-1.wav"), "rb") as played:
            assert (played.getframerate(), played.getnchannels(), played.getsampwidth()) == (
                8000,
                1,
                2,
            )
        # A form, as `curl -F file=@tone.mp3` sends it; the file name is kept, made safe.
        upload = await api.call(
            "PUT", "/campaigns/1/audio", 200, data=form(tone, "../../etc/tone of voice.mp3")
        )
        assert upload.body["source"] == "tone_of_voice.mp3"
        assert upload.body["sha256"] == message["sha256"]  # the same sound
        status = await api.get("/campaigns/1/status")
        assert status["message"]["source"] == "tone_of_voice.mp3"
        assert sorted(os.listdir(tmp_path / "sounds")) == ["campaign-1.wav"]

        sms_only = Api(api.client, await rig.token(Scope.SMS, name="sms"))
        assert await sms_only.fails("PUT", "/campaigns/1/audio", 403, data=tone) == (
            "forbidden",
            None,
        )


async def test_what_is_not_a_message(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any, tone: bytes
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path, max_upload_bytes=64 * 1024) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token(Scope.CAMPAIGNS))
        await api.post("/campaigns", 201, json={"name": "promo"})

        async def put(status: int, **options: Any) -> tuple[str, Any]:
            return await api.fails("PUT", "/campaigns/1/audio", status, **options)

        octets = {"Content-Type": "application/octet-stream"}
        assert await put(415, data=b"hello, not audio", headers=octets) == (
            "unsupported_media_type",
            None,
        )
        assert await put(415, json={"file": "x"}) == ("unsupported_media_type", None)
        # It starts like a WAV file, and ffmpeg cannot read it: the client's fault.
        fake_wav = b"RIFF\x00\x00\x00\x00WAVEfmt " + os.urandom(2000)
        assert await put(422, data=fake_wav, headers=octets) == ("invalid", "file")
        assert await put(422, data=b"", headers=octets) == ("invalid", "file")
        assert await put(422, data=form(tone, "x.mp3", field="audio")) == ("invalid", "file")
        broken = b"--b\r\nNone--b--\r\n"
        assert await put(
            400, data=broken, headers={"Content-Type": "multipart/form-data; boundary=b"}
        ) == ("bad_request", None)
        # Over http.max_upload_bytes: by its Content-Length, and while a chunked body arrives.
        big = b"ID3" + bytes(80 * 1024)
        assert await put(413, data=big, headers=octets) == ("payload_too_large", None)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"ID3" + bytes(8 * 1024)

        assert await put(413, data=chunks(), headers=octets) == ("payload_too_large", None)
        assert await api.fails("PUT", "/campaigns/7/audio", 404, data=tone) == ("not_found", None)
        assert (await api.get("/campaigns/1/status"))["message"] is None
        assert not (tmp_path / "sounds").exists() or os.listdir(tmp_path / "sounds") == []


async def test_no_ffmpeg_is_503_not_the_client_s_fault(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    aiohttp_client: Any,
    tone: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token(Scope.CAMPAIGNS))
        await api.post("/campaigns", 201, json={"name": "promo"})
        empty = tmp_path / "bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))  # a host without ffmpeg
        answer = await api.call("PUT", "/campaigns/1/audio", 503, data=tone)
        assert answer.error == ("unavailable", None)
        assert str(tmp_path) not in answer.body["error"]["message"]


def test_the_uploaded_name_is_only_a_name() -> None:
    assert safe_name("tone.mp3") == "tone.mp3"
    assert safe_name("..%2F..%2Fetc%2Fpasswd") == "passwd"
    assert safe_name("C:\\Users\\me\\voice message.ogg") == "voice_message.ogg"
    assert safe_name("повідомлення #2.mp3") == "повідомлення_2.mp3"
    for nothing in (None, "", "..", "/", "%00"):
        assert safe_name(nothing) == "upload", nothing
