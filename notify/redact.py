"""Keeping the bot token out of log records.

The token sits in every Bot API URL, so an HTTP client error can carry it (an invalid URL,
a redirect). The root's log filter redacts known secrets on the way out, but records are
built here first (and test capture sees them unfiltered), so notify scrubs whatever it
logs about Telegram errors itself and never hands such exceptions to `exc_info`.
"""

from __future__ import annotations

import traceback

REDACTED = "***"


class Redactor:
    """Replaces the token, and its secret half on its own, with ***."""

    def __init__(self, token: str) -> None:
        _, _, secret = token.partition(":")
        # The secret half alone covers a URL-encoded colon ("123%3AABC…").
        self._secrets = [s for s in (token, secret) if s]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def error(self, exc: BaseException) -> str:
        """`Type: message`, scrubbed: enough to tell a timeout from a refusal."""
        message = " ".join(str(exc).split())  # aiogram's texts run over several lines
        return self(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)

    def traceback(self, exc: BaseException) -> str:
        """The whole traceback as text, scrubbed, for failures of code we did not write."""
        return self("".join(traceback.format_exception(exc)).rstrip())
