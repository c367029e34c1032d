"""One POST and what its answer means: delivered, retry later, or given up now.

2xx                                  delivered
408, 429, 5xx, timeout, no connection retried with backoff, until the row is max_age old
any other answer (4xx, 3xx, 1xx)     given up at once: the receiver refuses it, and the
                                     same bytes will be refused again (redirects are not
                                     followed: fix the URL)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
from yarl import URL

from webhooks.settings import WebhookSettings
from webhooks.signing import headers

QUOTE_MAX = 200
"""Characters of the receiver's answer kept as the reason."""
RETRYABLE = frozenset({408, 429})


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: the HTTP status (None: none came), one line saying it."""

    status: int | None
    said: str
    seconds: float

    @property
    def verdict(self) -> Verdict:
        status = self.status
        if status is None or status in RETRYABLE or status >= 500:
            return Verdict.RETRY
        if 200 <= status < 300:
            return Verdict.DELIVERED
        return Verdict.REFUSED


def _quote(raw: bytes) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text if len(text) <= QUOTE_MAX else text[: QUOTE_MAX - 1] + "…"


def target(hook: WebhookSettings) -> tuple[URL, dict[str, str]]:
    """The URL to POST to (without user:password) and the Basic auth header they make."""
    url = URL(hook.url)
    auth = {}
    if url.user is not None:
        auth["Authorization"] = aiohttp.encode_basic_auth(url.user, url.password or "")
    return url.with_user(None).with_password(None), auth


async def post(
    http: aiohttp.ClientSession,
    hook: WebhookSettings,
    *,
    delivery_id: str,
    kind: str,
    body: bytes,
    timestamp: int,
) -> Answer:
    """POST `body` signed with the hook's secret; never raises for the receiver's sake."""
    url, auth = target(hook)
    signed = headers(
        hook.secret.get_secret_value(),
        delivery_id=delivery_id,
        kind=kind,
        timestamp=timestamp,
        body=body,
    )
    started = time.monotonic()
    try:
        async with asyncio.timeout(hook.timeout):
            async with http.post(
                url, data=body, headers=signed | auth, allow_redirects=False
            ) as response:
                raw = await response.content.read(QUOTE_MAX * 4)
                said = f"HTTP {response.status} {response.reason or ''}".rstrip()
                if raw.strip():
                    said += f": {_quote(raw)}"
                return Answer(response.status, said, time.monotonic() - started)
    except TimeoutError:
        said = f"no answer within {hook.timeout:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        said = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Answer(None, said, time.monotonic() - started)
