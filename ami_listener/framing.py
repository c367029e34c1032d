"""Bytes from the AMI socket into whole messages, decoded only once they are whole.

panoramisk decodes each TCP read on its own with errors="ignore", so a Cyrillic letter cut
between two reads is silently dropped. Here bytes are buffered, split on the blank line
(CRLF CRLF) that ends a message, and each message is decoded as a whole. The banner
(`Asterisk Call Manager/13.0.0`, one line and no blank line) is taken apart; stray blank
lines between messages (chan_dongle's DongleNewSMS ends with an extra CRLF) are skipped;
messages come out in the order they arrived.
"""

from __future__ import annotations

from ami_listener.errors import FrameTooLarge
from ami_listener.message import AmiMessage, parse_message

BANNER_PREFIX = b"Asterisk Call Manager/"
SEPARATOR = b"\r\n\r\n"


class AmiFramer:
    def __init__(self, max_message_bytes: int = 1 << 20) -> None:
        self._buffer = bytearray()
        self._max = max_message_bytes
        self.banner: str | None = None
        self._expect_banner = True
        # Where the search for the next message end may start: the bytes before it were
        # searched by an earlier feed(), so a message trickling in by small reads is not
        # re-scanned from its start on every read.
        self._scan_from = 0

    @property
    def banner_checked(self) -> bool:
        """True once the framer knows whether the stream began with a banner (`banner`
        is then the banner line, or None: the peer did not greet like Asterisk)."""
        return not self._expect_banner

    def reset(self) -> None:
        """A new connection: forget partial data; the next line may be a banner again."""
        self._buffer.clear()
        self.banner = None
        self._expect_banner = True
        self._scan_from = 0

    def feed(self, data: bytes) -> list[AmiMessage]:
        """The messages completed by `data`, in order. Raises FrameTooLarge."""
        buffer = self._buffer
        buffer += data
        messages: list[AmiMessage] = []
        if self._expect_banner and not self._take_banner():
            return messages
        start = 0
        scan_from = self._scan_from
        while True:
            # skip stray CRLFs between messages
            while buffer.startswith(b"\r\n", start):
                start += 2
            end = buffer.find(SEPARATOR, max(start, scan_from))
            if end < 0:
                break
            if end > start:
                text = buffer[start:end].decode("utf-8", errors="replace")
                messages.append(parse_message(text))
            start = end + len(SEPARATOR)
        del buffer[:start]
        # A separator may straddle this read and the next: rescan the last 3 bytes.
        self._scan_from = max(0, len(buffer) - (len(SEPARATOR) - 1))
        if len(buffer) > self._max:
            size = len(buffer)
            buffer.clear()
            self._scan_from = 0
            raise FrameTooLarge(f"an AMI message of over {size} bytes has no end")
        return messages

    def _take_banner(self) -> bool:
        """False while it cannot yet tell whether the stream starts with a banner."""
        buffer = self._buffer
        if len(buffer) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buffer)):
            return False
        if buffer.startswith(BANNER_PREFIX):
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > 256:
                    self._expect_banner = False
                    return True
                return False
            self.banner = bytes(buffer[:end]).decode("utf-8", errors="replace")
            del buffer[: end + 2]
        self._expect_banner = False
        return True
