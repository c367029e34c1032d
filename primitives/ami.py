"""The one shape of an AMI event consumer, so no room imports the listener to hear events.

A consumer declares the event names it wants and one handler:

    class Inbox:
        ami_events = ("DongleNewSMS", "DongleNewSMSBase64", ...)
        async def on_ami_event(self, event: AmiEvent) -> None: ...

and the root hands it to the AMI client: `ami.add_consumer(inbox)`. The client calls
`on_ami_event` for each event of those names (any case), one event at a time in arrival
order; an exception it raises is logged by the client and the next event goes on.

`AmiEvent` is what consumers read of an event; `ami_listener.message.AmiMessage` has it
all, so it satisfies the protocol without knowing of it. Headers repeat (`Variable`,
`ChanVariable`…): `get` gives the first value (case-insensitive name), `get_all` every
value, `items` each name once with its first value. Sending actions stays with the AMI
client and its escaper; this is only the listening side.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class AmiEvent(Protocol):
    """An AMI event as consumers read it (`ami_listener.message.AmiMessage` fits)."""

    @property
    def name(self) -> str:
        """The event's name as Asterisk wrote it (`Hangup`, `DongleNewSMSBase64`)."""
        ...

    def get(self, key: str, /) -> str | None: ...

    def get_all(self, key: str, /) -> list[str]: ...

    def items(self) -> Iterable[tuple[str, str]]: ...

    def chan_variables(self) -> dict[str, str]:
        """`ChanVariable` (and `ChanVariable(<channel>)`) headers as NAME → value."""
        ...

    def dest_chan_variables(self) -> dict[str, str]:
        """`DestChanVariable` headers (the other channel of a two-channel event)."""
        ...


class AmiConsumer(Protocol):
    """A component that hears AMI events: the names it wants and its handler."""

    @property
    def ami_events(self) -> tuple[str, ...]: ...

    async def on_ami_event(self, event: AmiEvent) -> None: ...
