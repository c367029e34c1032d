"""AmiClient: the supervised AMI connection every pbxbridge component talks to.

Built on panoramisk's Manager API *shape*, not on its class. `on_event(name, callback)`
is `Manager.register_event` and `action(name, headers)` is `Manager.send_action`, but
this is our own class rather than a `panoramisk.Manager` subclass, because every part of
Manager that matters would have to be replaced and the rest would get in the way:

* `AMIProtocol.data_received` decodes each TCP read on its own with errors="ignore"
  (a Cyrillic letter cut between two reads is lost): replaced by `AmiFramer`, which
  decodes whole messages only.
* `send_action` has no timeout, writes into a closed transport while reconnecting (the
  future never resolves), and `connection_lost` queues unanswered actions in
  `awaiting_actions` to re-send them on `FullyBooted`, which can place an Originate twice:
  replaced by `action()`, with a deadline, AmiDisconnected at once when not logged in or
  when the link drops, and no replay ever.
* `ping` never looks at the Pong, so a half-open TCP connection lives forever: replaced
  by a watchdog that closes the link when a Ping is not answered in `ping_timeout`.
* `connect()` resolves on TCP connect, and a refused login only sets a flag: replaced by
  a supervisor task whose health (`connecting`, `connected`, `reconnecting`,
  `auth_failed`, `stopped`) says whether the login succeeded.
* Reconnects come every 2 s forever: replaced by exponential backoff with jitter, and a
  long pause after a wrong secret.
* List responses are recognised by heuristics on `Message:` text: replaced by a
  declarative terminator map (`ami_listener.lists`).
* Event callbacks get `(manager, event)` and async ones go to `ensure_future` (unordered,
  exceptions unseen): replaced by one ordered dispatcher task (`ami_listener.dispatch`).

Subclassing would have kept Manager's `awaiting_actions` replay, its 1.4-era loop
handling and `Message`'s synthetic `content` key within reach of callers; a separate
class keeps the familiar shape and none of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random as _random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ami_listener.auth import login
from ami_listener.connection import AmiConnection
from ami_listener.dispatch import EventDispatcher, EventHandler
from ami_listener.errors import (
    AmiActionError,
    AmiAuthFailed,
    AmiDisconnected,
    AmiError,
    AmiNotSent,
    AmiTimeout,
    ProtocolViolation,
)
from ami_listener.escape import HeaderValues, format_action, header_value
from ami_listener.health import AmiHealth, HealthCallback, HealthTracker
from ami_listener.lists import complete_event
from ami_listener.message import AmiMessage
from ami_listener.router import MessageRouter, PendingAction
from ami_listener.settings import AmiSettings
from primitives.ami import AmiConsumer
from primitives.backoff import Backoff

logger = logging.getLogger("pbxbridge.ami")

LOGOFF_TIMEOUT = 2.0
"""Seconds `stop()` waits for Asterisk's Goodbye."""


@dataclass(frozen=True, slots=True)
class AmiStatus:
    """A snapshot for health pages. Times are the client's `monotonic()` clock."""

    health: AmiHealth
    detail: str
    since: float
    """When `health` last changed."""
    banner: str | None
    """`Asterisk Call Manager/<AMI version>` of the current connection."""
    last_data_at: float | None
    """When bytes last arrived on the current connection."""
    logins: int
    """Successful logins since the client was made (1 + reconnects)."""


class AmiClient:
    """One supervised, logged-in AMI connection, re-established whenever it is lost."""

    def __init__(
        self,
        settings: AmiSettings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._settings = settings
        self._monotonic = monotonic
        self._backoff = Backoff(
            settings.backoff_initial,
            settings.backoff_max,
            jitter=settings.backoff_jitter,
            random=random,
        )
        self._health = HealthTracker(monotonic)
        self._dispatcher = EventDispatcher()
        self._connection: AmiConnection | None = None
        """Set only while logged in: what `action()` sends on."""
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._logins = 0
        self._ids = itertools.count(1)
        # Unique per client: a response to an earlier process's action never matches.
        self._id_prefix = f"pbxbridge-{secrets.token_hex(4)}-"

    def __repr__(self) -> str:
        s = self._settings
        return f"AmiClient({s.username}@{s.host}:{s.port}, {self._health.state.value})"

    # Health

    @property
    def health(self) -> AmiHealth:
        return self._health.state

    def on_health(self, callback: HealthCallback) -> None:
        """`callback(health, detail)`, sync or async, once per change of `health`."""
        self._health.add_callback(callback)

    def status(self) -> AmiStatus:
        connection = self._connection
        return AmiStatus(
            health=self._health.state,
            detail=self._health.detail,
            since=self._health.since,
            banner=connection.banner if connection is not None else None,
            last_data_at=connection.last_data_at if connection is not None else None,
            logins=self._logins,
        )

    # Events

    def on_event(self, name: str, callback: EventHandler) -> None:
        """`callback(event)`, sync or async, for every event called `name` (any case), or
        for every event with "*". Events are handled one at a time in arrival order."""
        self._dispatcher.on_event(name, callback)

    def add_consumer(self, consumer: AmiConsumer) -> None:
        """`consumer.on_ami_event(event)` for every event named in `consumer.ami_events`:
        the one way a component hears AMI (see `primitives.ami`)."""
        for name in consumer.ami_events:
            self._dispatcher.on_event(name, consumer.on_ami_event)

    # Actions

    async def action(
        self,
        name: str,
        headers: HeaderValues | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the API other components use
        action_id: str | None = None,
    ) -> AmiMessage:
        """Send `Action: name` with `headers` and return its response.

        `action_id` (default: a unique one) lets the caller use its own idempotency key.
        A sequence as a header value repeats the header (`Variable`). Raises
        AmiActionError on `Response: Error`, AmiTimeout after `timeout` (default
        `action_timeout`), AmiDisconnected at once when not logged in or when the link is
        lost before the response. Never re-sent by the client; ValueError for a header
        that cannot be written (CR, LF, NUL, too long).
        """
        pending = await self._request(
            self._logged_in(name), name, headers, deadline=timeout, action_id=action_id
        )
        assert pending.response is not None
        return pending.response

    async def list_action(
        self,
        name: str,
        headers: HeaderValues | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the API other components use
        complete: str | None = None,
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        """Send a list action; its response and the events of the list, in order.

        The list ends with the event `complete` (default from `ami_listener.lists`, e.g.
        CoreShowChannels → CoreShowChannelsComplete) or with any event carrying
        `EventList: Complete`; that terminator is not part of the returned events.
        `timeout` bounds the whole list; AmiTimeout then carries what had arrived.
        """
        connection = self._logged_in(name)
        pending = await self._request(
            connection,
            name,
            headers,
            deadline=timeout,
            is_list=True,
            complete=complete_event(name, complete),
        )
        assert pending.response is not None
        _check_list_size(name, pending)
        return pending.response, pending.events

    def _logged_in(self, name: str) -> AmiConnection:
        connection = self._connection
        if connection is None or connection.is_closed:
            raise AmiNotSent(f"AMI not connected ({self._health.state.value}): {name} not sent")
        return connection

    async def _request(
        self,
        connection: AmiConnection,
        name: str,
        headers: HeaderValues | None,
        *,
        deadline: float | None,
        action_id: str | None = None,
        is_list: bool = False,
        complete: str | None = None,
    ) -> PendingAction:
        if action_id is None:
            action_id = f"{self._id_prefix}{next(self._ids)}"
        elif not action_id or header_value(action_id) != action_id.strip():
            raise ValueError("an ActionID must be non-empty without surrounding spaces")
        data = format_action(name, action_id, headers)
        if deadline is None:
            deadline = self._settings.action_timeout
        router = connection.router
        pending = router.expect(action_id, name, is_list=is_list, complete=complete)
        try:
            async with asyncio.timeout(deadline):
                await connection.send(data)
                await pending.future
        except TimeoutError:
            if is_list and pending.response is not None:
                what = f"list not complete within {deadline:g} s ({len(pending.events)} so far)"
            else:
                what = f"no response within {deadline:g} s"
            raise AmiTimeout(
                f"{name}: {what}",
                response=pending.response,
                events=pending.events,
            ) from None
        finally:
            router.forget(action_id)
        return pending

    # Lifecycle

    async def start(self) -> None:
        """Start connecting in the background and return at once."""
        if self._supervisor is not None and not self._supervisor.done():
            return
        s = self._settings
        if not s.enabled:
            self._health.set(AmiHealth.STOPPED, "disabled ([ami] enabled = false)")
            logger.info("AMI disabled: not connecting")
            return
        self._stopping = False
        self._dispatcher.start()
        self._health.start()
        self._health.set(AmiHealth.CONNECTING, f"{s.host}:{s.port} as {s.username}")
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def stop(self) -> None:
        """Log off if logged in, close, stop the tasks. Waiting actions fail with
        AmiDisconnected; queued events get up to `action_timeout` to be handled."""
        self._stopping = True
        connection = self._connection
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(AmiError):
                await self._request(
                    connection,
                    "Logoff",
                    None,
                    deadline=min(self._settings.action_timeout, LOGOFF_TIMEOUT),
                )
            connection.close("AMI client stopped")
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        self._connection = None
        self._health.set(AmiHealth.STOPPED, "stopped")
        await self._dispatcher.stop(self._settings.action_timeout)
        await self._health.stop(self._settings.action_timeout)

    async def try_login(self) -> str:
        """Connect, log in (without events) and log off once, on a connection of its own;
        what it found, e.g. `logged in to 127.0.0.1:5038 as pbxbridge (Asterisk Call
        Manager/…)`.

        For a check from another process (`pbxbridge check`): it proves the address, the
        user and the secret while the service keeps its own link. The supervised link is
        not touched. Raises AmiAuthFailed when Asterisk refuses the login, AmiDisconnected
        when it cannot be reached or does not answer; messages are one line, secret-free.
        """
        async with self._own_connection() as connection:
            s = self._settings
            return f"logged in to {s.host}:{s.port} as {s.username} ({connection.banner})"

    async def action_once(
        self,
        name: str,
        headers: HeaderValues | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - as `action`
    ) -> AmiMessage:
        """Send one action on a connection of its own (connect, log in without events,
        the action, log off) and return its response.

        For a command-line process that needs one action while the service keeps its own
        link (`pbxbridge line …` reloading res_pjsip). Raises as `try_login` does for the
        connection and the login (AmiAuthFailed, AmiDisconnected: nothing was sent), then
        as `action` for the action itself (AmiActionError, AmiTimeout, AmiDisconnected).
        """
        async with self._own_connection() as connection:
            pending = await self._request(connection, name, headers, deadline=timeout)
            assert pending.response is not None
            return pending.response

    @contextlib.asynccontextmanager
    async def _own_connection(self) -> AsyncIterator[AmiConnection]:
        """A logged-in connection apart from the supervised link, logged off at the end."""
        s = self._settings.model_copy(update={"events": "off"})
        where = f"{s.host}:{s.port}"
        router = MessageRouter(self._dispatcher)
        try:
            connection = await AmiConnection.open(
                s.host, s.port, router, connect_timeout=s.connect_timeout, monotonic=self._monotonic
            )
        except (OSError, TimeoutError, ProtocolViolation) as exc:
            raise AmiNotSent(f"cannot connect to {where}: {_describe(exc)}") from None
        try:
            try:
                await login(lambda name, headers: self._response(connection, name, headers), s)
            except AmiAuthFailed:
                raise
            except AmiError as exc:
                raise AmiNotSent(f"login at {where} failed: {exc}") from None
            yield connection
            with contextlib.suppress(AmiError):
                await self._request(
                    connection, "Logoff", None, deadline=min(s.action_timeout, LOGOFF_TIMEOUT)
                )
        finally:
            await connection.aclose("one-off connection done")

    def _is_stopping(self) -> bool:
        return self._stopping

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                delay, state, detail = await self._session()
            except Exception as exc:  # a bug of ours must not end reconnecting
                logger.exception("AMI supervisor failed")
                delay = self._backoff.next_delay()
                state, detail = AmiHealth.RECONNECTING, f"internal error: {type(exc).__name__}"
            if self._is_stopping():
                return
            if not self._health.set(state, detail):
                logger.debug("AMI still %s: %s", state.value, detail)
            await asyncio.sleep(delay)

    async def _session(self) -> tuple[float, AmiHealth, str]:
        """One connection, from connect to its end: (delay before the next, state, why)."""
        s = self._settings
        where = f"{s.host}:{s.port}"
        router = MessageRouter(self._dispatcher)
        try:
            connection = await AmiConnection.open(
                s.host, s.port, router, connect_timeout=s.connect_timeout, monotonic=self._monotonic
            )
        except (OSError, TimeoutError, ProtocolViolation) as exc:
            return self._retry(f"cannot connect to {where}: {_describe(exc)}")
        reason = "AMI client stopped"
        try:
            try:
                await login(lambda name, headers: self._response(connection, name, headers), s)
            except AmiAuthFailed as exc:
                delay = s.auth_failed_backoff
                return delay, AmiHealth.AUTH_FAILED, f"{exc}; next attempt in {delay:g} s"
            except AmiError as exc:
                return self._retry(f"login at {where} failed: {exc}")
            up_since = self._monotonic()
            self._logins += 1
            self._connection = connection
            self._health.set(
                AmiHealth.CONNECTED, f"logged in to {where} as {s.username} ({connection.banner})"
            )
            pinger = asyncio.create_task(self._watch(connection), name="ami-ping")
            try:
                reason = await connection.wait_closed()
            finally:
                self._connection = None
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger
            if self._monotonic() - up_since >= s.stable_after:
                self._backoff.reset()
            return self._retry(f"link to {where} lost: {reason}")
        finally:
            await connection.aclose(reason)

    def _retry(self, why: str) -> tuple[float, AmiHealth, str]:
        delay = self._backoff.next_delay()
        return delay, AmiHealth.RECONNECTING, f"{why}; next attempt in {delay:.3g} s"

    async def _response(
        self, connection: AmiConnection, name: str, headers: HeaderValues | None
    ) -> AmiMessage:
        pending = await self._request(connection, name, headers, deadline=None)
        assert pending.response is not None
        return pending.response

    async def _watch(self, connection: AmiConnection) -> None:
        """The ping watchdog: a Ping not answered within `ping_timeout` means the
        connection is dead even if TCP has not noticed (a half-open connection)."""
        s = self._settings
        while not connection.is_closed:
            await asyncio.sleep(s.ping_interval)
            try:
                await self._request(connection, "Ping", None, deadline=s.ping_timeout)
            except AmiTimeout:
                connection.close(f"no answer to Ping within {s.ping_timeout:g} s (half-open?)")
                return
            except AmiActionError:
                continue  # an answer all the same: the link is alive
            except AmiDisconnected:
                return


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return text or type(exc).__name__


def _check_list_size(name: str, pending: PendingAction) -> None:
    terminator = pending.terminator
    expected = terminator.get("ListItems") if terminator is not None else None
    if expected is not None and expected.isdigit() and int(expected) != len(pending.events):
        logger.warning(
            "AMI %s: %s items announced, %d received", name, expected, len(pending.events)
        )
