"""Commands texted in by subscribers, and the replies they get."""

from __future__ import annotations

import re

from billing_client.subscriber import SubscriberInfo
from sms.settings import AutoReplySettings

_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def command_word(text: str) -> str:
    """The text as a command: surrounding spaces and punctuation dropped, case folded."""
    return _EDGES.sub("", text).casefold()


def is_balance_command(text: str, settings: AutoReplySettings) -> bool:
    word = command_word(text)
    return bool(word) and any(word == command_word(c) for c in settings.balance_commands)


def balance_reply(info: SubscriberInfo, settings: AutoReplySettings) -> str:
    fields = {
        "login": info.login,
        "name": info.name,
        "balance": f"{info.balance:.2f}",
        "credit": f"{info.credit:.2f}",
        "fee": f"{info.fee:.2f}",
        "tariff": info.tariff,
        "days_left": "" if info.days_left is None else str(info.days_left),
    }
    template = (
        settings.balance_reply if info.days_left is not None else (settings.balance_reply_no_days)
    )
    return template.format(**fields)


def reply_for(text: str, info: SubscriberInfo | None, settings: AutoReplySettings) -> str | None:
    """The reply a stored SMS gets, or None: unknown senders and other texts get nothing."""
    if not settings.enabled or info is None:
        return None
    if is_balance_command(text, settings):
        return balance_reply(info, settings)
    return None
