"""Logging in: plain (`Secret:`) or Challenge/MD5 (`Key: md5hex(challenge + secret)`).

With MD5 the secret never crosses the wire: Asterisk sends a random challenge and checks
the hash (`main/manager.c` `authenticate()`). The secret is read from its SecretStr only
here, and no error raised here carries it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from ami_listener.errors import AmiActionError, AmiAuthFailed
from ami_listener.escape import HeaderValues
from ami_listener.message import AmiMessage
from ami_listener.settings import AmiSettings

Request = Callable[[str, HeaderValues], Awaitable[AmiMessage]]
"""Sends one action on the connection being logged in and returns its response."""


def md5_key(challenge: str, secret: str) -> str:
    """The `Key:` of an MD5 login, as Asterisk computes it."""
    # MD5 is what the AMI protocol specifies; it is not our choice of hash.
    return hashlib.md5((challenge + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


async def login(request: Request, settings: AmiSettings) -> AmiMessage:
    """Log in on a fresh connection; the `Authentication accepted` response.

    Raises AmiAuthFailed when Asterisk refuses (the message names the user, never the
    secret), AmiTimeout or AmiDisconnected when it does not answer.
    """
    secret = settings.secret.get_secret_value()
    who = f"AMI user {settings.username!r} at {settings.host}:{settings.port}"
    headers: dict[str, str] = {"Username": settings.username}
    if settings.auth == "md5":
        try:
            challenge = await request("Challenge", {"AuthType": "MD5"})
        except AmiActionError as exc:
            raise AmiAuthFailed(
                f"{who}: Asterisk refused the MD5 challenge ({exc.message}); "
                'try [ami] auth = "plain"'
            ) from None
        nonce = challenge.get("Challenge")
        if not nonce:
            raise AmiAuthFailed(f"{who}: the MD5 challenge response has no Challenge")
        headers |= {"AuthType": "MD5", "Key": md5_key(nonce, secret)}
    else:
        headers["Secret"] = secret
    headers["Events"] = settings.events
    try:
        return await request("Login", headers)
    except AmiActionError as exc:
        text = exc.response.get("Message") or exc.response.name
        raise AmiAuthFailed(
            f"Asterisk refused the login of {who} ({text}); "
            "check [ami] username and secret against manager.conf"
        ) from None
    except ValueError:
        # Only a secret with CR, LF or NUL gets here; say so without quoting it.
        raise AmiAuthFailed(f"{who}: the secret contains CR, LF or NUL") from None
