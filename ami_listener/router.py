"""Whole messages to where they belong.

A response goes to the action waiting for its ActionID; an event carrying the ActionID of
a waiting *list* action is one of that list's items; every other event goes to the
dispatcher (only if someone listens to it). Events that carry the ActionID of an ordinary
action (the `UserEvent` echo, an async Originate's `OriginateResponse`) are ordinary
events: they are dispatched, never swallowed.

Asterisk does not escape event values: a variable or message body holding a blank line
(`VarSet`, `Newexten` and `UserEvent` can carry one) splits its event, and the tail comes
as a message of plain text with no `Event:` line. Such a fragment is logged and skipped;
a few of them in a row, or bytes that are not text at all, mean the stream lost sync (or
the peer is not AMI): `ProtocolViolation`, and the connection is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from ami_listener.dispatch import Batch, EventDispatcher
from ami_listener.errors import AmiActionError, AmiError, ProtocolViolation
from ami_listener.framing import AmiFramer
from ami_listener.message import AmiMessage

logger = logging.getLogger("pbxbridge.ami")

ERROR_RESPONSES = frozenset({"error", "fail", "failure"})
MAX_FRAGMENTS_IN_A_ROW = 8
"""Headerless text messages tolerated between two real ones (an event value split by
blank lines gives one per blank line in it)."""


class PendingAction:
    """An action sent and not answered yet; `future` ends when it is answered (for a list
    action: when its terminator event has come too)."""

    __slots__ = (
        "complete",
        "events",
        "future",
        "is_list",
        "name",
        "response",
        "terminated",
        "terminator",
    )

    def __init__(self, name: str, *, is_list: bool, complete: str | None) -> None:
        self.name = name
        self.is_list = is_list
        self.complete = complete.lower() if complete else None
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.response: AmiMessage | None = None
        self.events: list[AmiMessage] = []
        self.terminated = False
        self.terminator: AmiMessage | None = None

    def on_response(self, message: AmiMessage) -> None:
        if self.future.done():
            return
        if message.name.lower() in ERROR_RESPONSES:
            self.response = message
            text = message.get("Message") or message.name
            self.future.set_exception(AmiActionError(f"{self.name}: {text}", message))
            return
        self.response = message
        if not self.is_list or self.terminated:
            self.future.set_result(None)

    def on_event(self, message: AmiMessage) -> None:
        """A list item, or the terminator."""
        if self.terminated or self.future.done():
            return
        if message.name.lower() == self.complete or (
            (message.get("EventList") or "").lower() == "complete"
        ):
            self.terminated = True
            self.terminator = message
            if self.response is not None:
                self.future.set_result(None)
            return
        self.events.append(message)

    def fail(self, exc: AmiError) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class MessageRouter:
    def __init__(self, dispatcher: EventDispatcher) -> None:
        self.framer = AmiFramer()
        self._dispatcher = dispatcher
        self._pending: dict[str, PendingAction] = {}
        self._lists: dict[str, PendingAction] = {}
        self._fragments = 0

    def expect(
        self, action_id: str, name: str, *, is_list: bool = False, complete: str | None = None
    ) -> PendingAction:
        """Register an action about to be sent. ValueError if `action_id` is in use."""
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id!r} is already waiting for its response")
        pending = PendingAction(name, is_list=is_list, complete=complete)
        self._pending[action_id] = pending
        if is_list:
            self._lists[action_id] = pending
        return pending

    def forget(self, action_id: str) -> None:
        """The caller stopped waiting (answered, timed out or cancelled)."""
        pending = self._pending.pop(action_id, None)
        self._lists.pop(action_id, None)
        if pending is not None and pending.future.done() and not pending.future.cancelled():
            pending.future.exception()  # retrieved: no "exception never retrieved" noise

    def fail_all(self, exc: AmiError) -> None:
        """The link is gone: every waiting action fails now (and is never re-sent)."""
        pending = list(self._pending.values())
        self._pending.clear()
        self._lists.clear()
        for action in pending:
            action.fail(exc)

    def feed(self, data: bytes) -> None:
        """Bytes from the socket. Raises FrameTooLarge or ProtocolViolation."""
        self.route(self.framer.feed(data))

    def _skip_fragment(self, message: AmiMessage) -> None:
        """A message that is neither an event nor a response: the tail of a split event
        value (logged, skipped) or a lost stream (ProtocolViolation)."""
        self._fragments += 1
        parts = [*(f"{k}: {v}" for k, v in message.headers), *message.lines]
        binary = any((c < " " and c != "\t") or c == "\ufffd" for part in parts for c in part)
        if binary or self._fragments > MAX_FRAGMENTS_IN_A_ROW:
            raise ProtocolViolation(f"neither an event nor a response: {message!r}")
        logger.warning(
            "AMI message with no Event or Response line skipped (an event value with a blank "
            "line in it?): %.200r",
            " / ".join(parts),
        )

    def route(self, messages: Iterable[AmiMessage]) -> None:
        batch: Batch = []
        handlers_for = self._dispatcher.handlers_for
        pending = self._pending
        lists = self._lists
        try:
            for message in messages:
                headers = message.headers
                first = headers[0][0].lower() if headers else ""
                if first == "event":
                    self._fragments = 0
                    if lists:
                        action_id = message.get("ActionID")
                        if action_id is not None and action_id in lists:
                            lists[action_id].on_event(message)
                            continue
                    handlers = handlers_for(headers[0][1])
                    if handlers:
                        batch.append((message, handlers))
                elif first == "response":
                    self._fragments = 0
                    action_id = message.get("ActionID")
                    waiting = pending.get(action_id) if action_id is not None else None
                    if waiting is not None:
                        waiting.on_response(message)
                    else:
                        logger.debug("AMI response for no waiting action: %r", message)
                else:
                    self._skip_fragment(message)
        finally:
            self._dispatcher.publish(batch)
