"""`/campaigns/{id}/audio`: a campaign's message, uploaded and converted as `pbxbridge
campaign audio` converts it (callfile_spooler/audio.py: 8 kHz mono WAV plus the other
spool.audio_formats, in a worker thread).

The upload is bounded by http.max_upload_bytes and must be a known audio container
(web/api/uploads.py): a file that is not audio is 415 before ffmpeg runs, one ffmpeg cannot
read is 422, and a service that cannot convert now (no ffmpeg, spool.sounds_dir not
writable) answers 503: never a 500 for what a client sent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from callfile_spooler.audio import AudioInfo
from callfile_spooler.errors import AudioError, AudioUnavailable, CampaignError
from web.api.campaigns import CampaignPath, campaign_of
from web.api.deps import actor, api_deps
from web.api.routing import UPLOAD, RouteTable
from web.api.uploads import FIELD, UPLOAD_TYPES, receive
from web.errors import Invalid, NotFound, Unavailable
from web.tokens import Scope

log = logging.getLogger("pbxbridge.web.api")

routes = RouteTable("campaigns")


class Message(BaseModel):
    """A campaign's message as Asterisk plays it."""

    source: str = Field(description="The uploaded file's name.")
    formats: list[str] = Field(description="Asterisk formats written (wav first).")
    duration: float = Field(description="Seconds.")
    sha256: str = Field(description="Of the 8 kHz samples: the same sound has the same digest.")
    attached_at: datetime

    @classmethod
    def of(cls, info: AudioInfo) -> Message:
        return cls(
            source=info.source,
            formats=list(info.formats),
            duration=round(info.duration, 3),
            sha256=info.sha256,
            attached_at=info.attached_at,
        )


@routes.put(
    "/campaigns/{id}/audio",
    scope=Scope.CAMPAIGNS,
    errors=(404, 503),
    max_body=UPLOAD,
    uploads=UPLOAD_TYPES,
)
async def put_audio(request: web.Request, path: CampaignPath) -> Message:
    """Upload the campaign's message.

    The body is the file itself (`Content-Type: audio/mpeg`, `audio/wav`, … or
    `application/octet-stream`), or a form with the file in the field `file`. mp3, wav,
    ogg/opus, flac, m4a, aiff, amr, webm, au and wma are taken, up to http.max_upload_bytes
    and 10 minutes; the campaign's calls play it from the next call on. 415 for a file that
    is not one of those, 422 for one that cannot be decoded, 503 when the service cannot
    convert audio now (ffmpeg missing, spool.sounds_dir not writable).
    """
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    async with receive(request, deps.max_upload_bytes) as upload:
        try:
            attached = await deps.audio.attach(info.name, upload.path)
        except AudioUnavailable as exc:
            log.error("campaign %s: audio not converted: %s", info.name, exc)
            raise Unavailable(
                "the service cannot convert audio now (its log says why: ffmpeg, spool.sounds_dir)"
            ) from None
        except AudioError as exc:
            raise Invalid(str(exc), field=FIELD) from None
        except CampaignError:  # deleted meanwhile
            raise NotFound(f"no campaign {path.id}") from None
    log.info(
        "campaign %s: message %s (%s, %d bytes, %.1f s) uploaded by %s",
        info.name,
        attached.source,
        upload.kind,
        upload.size,
        attached.duration,
        actor(request),
    )
    return Message.of(attached)
