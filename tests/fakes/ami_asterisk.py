"""A fake Asterisk Manager Interface: an asyncio TCP server that speaks from real captures.

Every reply it sends by default is a message of the real captures in
`tests/fixtures/asterisk/ami-*.raw` (recorded from Asterisk master, AMI 13.0.0), byte for
byte, with only the ActionID (and a few values named below) substituted:

* the banner `Asterisk Call Manager/13.0.0`;
* `Login`: `Authentication accepted` then `FullyBooted` (unless `Events: off`), or
  `Authentication failed` followed by a close, as Asterisk does. Plain logins are checked
  against `secret`, MD5 logins against md5(challenge + secret) for the challenge this
  connection was given;
* `Challenge` (`AuthType: MD5`) with a fresh random challenge per connection;
* `Ping` → `Ping: Pong`, `Logoff` → `Goodbye` and a close, `Command`, `Getvar`,
  `UserEvent` (the response, then the UserEvent itself), `Originate` (`successfully
  queued`), `CoreShowChannels` and `QueueStatus` (whole lists, from the captures);
* `ModuleLoad` with `LoadType: reload` (hand-made from manager.c: `Module reloaded.`,
  `No such module.`, or `reload_error`), reading `pjsip_file` as res_pjsip would;
* any other action: the captured `Invalid/unknown command` error with its name;
* any action before login except Login/Challenge/Logoff: `Permission denied`
  (hand-made: manager.c's text in the captured error shape).

With `dongle=True`, chan_dongle's `DongleSendSMS` and `DongleShowDevices` answer from the
hand-made `ami-dongle-handmade.json` (bg111 chan_dongle format strings), and
`dongle_sms_events()` builds an inbound `DongleNewSMS` + `DongleNewSMSBase64` pair.

Quick reference::

    fake = FakeAmi(secret="s3cret")           # port=0: an ephemeral port
    await fake.start()                        # fake.port
    fake.on_action("DongleSendSMS", lambda a: {"Response": "Success",
                   "Message": "[dongle0] SMS queued for send", "ID": "0x1"})
    fake.on_action("Originate", None)         # never answered (None: no reply at all)
    fake.pjsip_file = path                    # ModuleLoad reload res_pjsip.so reads it:
    fake.pjsip_loads                          #   what each accepted reload read
    fake.reload_error = "A reload is in progress"   # every reload refused with that
    fake.fail_action("QueueAdd", "Unable to add interface")
    await fake.send_event({"Event": "Hangup", "Uniqueid": "1.1", "Cause": "16"})
    await fake.send_raw(b"Event: X\\r\\n\\r\\n", split_at=[3, 9])  # three separate writes
    await fake.replay("originate")            # the captured session's events, in order
    fake.actions / fake.actions_named("Originate")   # every action received (AmiMessage)
    await fake.wait_for_action("Ping")        # next (or already received) Ping
    await fake.drop()                         # close every connection (link lost)
    fake.stall()                              # half-open: stop reading and writing
    fake.answer_ping = False                  # everything but Ping answered
    await fake.restart(down_for=0.2)          # a new "process" on the same port
    await fake.stop()

A responder is `responder(action) -> reply` (sync or async) where reply is None (send
nothing), bytes (sent as is), a mapping of headers (an `ActionID` header is added after
the first one when missing), or a list of those, sent in order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import inspect
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

from ami_listener.message import AmiMessage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "asterisk"
CAPTURES = MappingProxyType(
    {
        "originate": "ami-session-originate-callfiles-agi.raw",
        "queue": "ami-session-missed-answered-queue.raw",
        "login": "ami-login-failed-and-md5.raw",
    }
)
"""Short names of the captures; `replay()` also takes the file names."""
DONGLE_FILE = FIXTURES / "ami-dongle-handmade.json"

CRLF = b"\r\n"
END = b"\r\n\r\n"
NEW_CONNECTION = b"--- new connection ---"
DEFAULT_SECRET = "s3cret"

Headers: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]
Reply: TypeAlias = bytes | Mapping[str, str]
Replies: TypeAlias = Reply | Sequence[Reply] | None
Responder: TypeAlias = Callable[[AmiMessage], Replies | Awaitable[Replies]]


# The captures


def split_messages(data: bytes) -> tuple[list[bytes], list[bytes]]:
    """A capture's banner lines and its messages, each message's raw bytes ending with
    its blank line. Stray blank lines between messages are dropped."""
    banners: list[bytes] = []
    messages: list[bytes] = []
    rest = data
    while rest:
        if rest.startswith(CRLF):
            rest = rest[2:]
            continue
        line, sep, after = rest.partition(CRLF)
        if line.startswith(b"Asterisk Call Manager/") or line == NEW_CONNECTION:
            if line != NEW_CONNECTION:
                banners.append(line + sep)
            rest = after
            continue
        raw, sep, rest = rest.partition(END)
        messages.append(raw + sep)
    return banners, messages


def parse(raw: bytes) -> AmiMessage:
    """Headers of one raw message (the fake's own parser, independent of the client's)."""
    headers: list[tuple[str, str]] = []
    lines: list[str] = []
    for line in raw.decode("utf-8", errors="replace").split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if sep and key and " " not in key:
            headers.append((key, value[1:] if value.startswith(" ") else value))
        else:
            lines.append(line)
    return AmiMessage(tuple(headers), tuple(lines))


def encode(headers: Headers) -> bytes:
    """One message from headers, in order (a sequence of pairs may repeat a name)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in pairs) + CRLF


def with_action_id(raw: bytes, action_id: str) -> bytes:
    """`raw` with its ActionID header's value replaced (or inserted as second header)."""
    lines = raw[: -len(END)].split(CRLF) if raw.endswith(END) else raw.split(CRLF)
    new = f"ActionID: {action_id}".encode()
    for i, line in enumerate(lines):
        if line.lower().startswith(b"actionid:"):
            lines[i] = new
            break
    else:
        lines.insert(1, new)
    return CRLF.join(lines) + END


def replace_header(raw: bytes, name: str, value: str) -> bytes:
    lines = raw[: -len(END)].split(CRLF)
    prefix = f"{name.lower()}:".encode()
    lines = [f"{name}: {value}".encode() if ln.lower().startswith(prefix) else ln for ln in lines]
    return CRLF.join(lines) + END


@dataclass(frozen=True)
class Capture:
    """One capture file, split into raw messages."""

    name: str
    banners: tuple[bytes, ...]
    messages: tuple[bytes, ...]
    parsed: tuple[AmiMessage, ...]

    @classmethod
    def load(cls, name: str) -> Capture:
        path = FIXTURES / CAPTURES.get(name, name)
        banners, messages = split_messages(path.read_bytes())
        return cls(path.name, tuple(banners), tuple(messages), tuple(map(parse, messages)))

    def by_action_id(self, action_id: str) -> list[bytes]:
        """Messages carrying `action_id`, in order."""
        return [
            raw
            for raw, m in zip(self.messages, self.parsed, strict=True)
            if m.action_id == action_id
        ]

    def reply(self, action_id: str) -> list[bytes]:
        """The response with `action_id`, and when it starts a list, the list's events up
        to and including the terminator."""
        found = self.by_action_id(action_id)
        first = parse(found[0])
        if (first.get("EventList") or "").lower() != "start":
            return found[:1]
        out = [found[0]]
        for raw in found[1:]:
            out.append(raw)
            if (parse(raw).get("EventList") or "").lower() == "complete":
                break
        return out

    def list_item_ids(self) -> set[str]:
        """ActionIDs of list responses (their events answer actions, not news)."""
        return {
            m.action_id or ""
            for m in self.parsed
            if m.kind == "response" and (m.get("EventList") or "").lower() == "start"
        }

    def events(self) -> list[bytes]:
        """Every event of the session, in order, except the items of list responses."""
        lists = self.list_item_ids()
        return [
            raw
            for raw, m in zip(self.messages, self.parsed, strict=True)
            if m.kind == "event" and m.action_id not in lists
        ]


def dongle_templates() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DONGLE_FILE.read_text(encoding="utf-8"))
    return data


def dongle_sms_events(text: str, sender: str = "+380501112233", device: str = "dongle0") -> bytes:
    """chan_dongle's two events for one inbound SMS, as bg111 sends them: DongleNewSMS
    (text split into lines, empty lines dropped, a stray CRLF after it) then
    DongleNewSMSBase64 (base64 of the UTF-8 text). Hand-made, see the JSON's comment."""
    t = dongle_templates()
    parts = [p for p in text.replace("\r", "\n").split("\n") if p]
    lines = "".join(t["DongleNewSMS_line"].format(index=i, text=p) for i, p in enumerate(parts))
    first: str = t["DongleNewSMS"].format(
        device=device, sender=sender, line_count=len(parts), lines=lines
    )
    b64 = base64.b64encode(text.encode("utf-8")).decode("ascii")
    second: str = t["DongleNewSMSBase64"].format(device=device, sender=sender, base64=b64)
    return (first + second).encode("utf-8")


def newchannel(
    uniqueid: str,
    callerid: str,
    *,
    linkedid: str | None = None,
    context: str = "from-trunk",
    channel: str = "PJSIP/trunk-00000021",
) -> dict[str, str]:
    """A `Newchannel` in the captures' shape (their calls use Local channels; this is the
    first channel of a call from a trunk, ringing, with the caller's number)."""
    return {
        "Event": "Newchannel",
        "Privilege": "call,all",
        "Channel": channel,
        "ChannelState": "4",
        "ChannelStateDesc": "Ring",
        "CallerIDNum": callerid,
        "CallerIDName": "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": context,
        "Exten": "0800300300",
        "Priority": "1",
        "Uniqueid": uniqueid,
        "Linkedid": linkedid or uniqueid,
    }


# Replies


def success(**headers: str) -> dict[str, str]:
    return {"Response": "Success", **headers}


def error(message: str) -> dict[str, str]:
    return {"Response": "Error", "Message": message}


def _as_bytes(reply: Reply, action_id: str | None) -> bytes:
    if isinstance(reply, bytes):
        return reply
    pairs = list(reply.items())
    if action_id is not None and not any(k.lower() == "actionid" for k, _ in pairs):
        pairs.insert(1 if pairs else 0, ("ActionID", action_id))
    return encode(pairs)


def _flatten(replies: Replies) -> list[Reply]:
    if replies is None:
        return []
    if isinstance(replies, (bytes, Mapping)):
        return [replies]
    return list(replies)


# The server


@dataclass(eq=False)
class _Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    generation: int
    challenge: str | None = None
    authenticated: bool = False
    events: bool = True
    stalled: bool = False
    closing: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def write(self, data: bytes, split_at: Sequence[int] = (), pause: float = 0.01) -> bool:
        """Write `data`, cut at the `split_at` offsets into separate writes with a pause
        between them (so the client reads them separately). False if not written."""
        if self.stalled or self.closing or self.writer.is_closing():
            return False
        async with self.lock:
            try:
                cuts = sorted({c for c in split_at if 0 < c < len(data)})
                start = 0
                for cut in [*cuts, len(data)]:
                    self.writer.write(data[start:cut])
                    await self.writer.drain()
                    start = cut
                    if cut != len(data) and pause:
                        await asyncio.sleep(pause)
            except (ConnectionError, OSError):
                return False
        return True


class FakeAmi:
    """See the module docstring for the API."""

    def __init__(
        self,
        *,
        username: str = "pbxbridge",
        secret: str = DEFAULT_SECRET,
        host: str = "127.0.0.1",
        port: int = 0,
        dongle: bool = False,
    ) -> None:
        self.username = username
        self.secret = secret
        self.host = host
        self.port = port
        self.dongle = dongle
        self.answer_ping = True
        self.pjsip_file: Path | None = None
        """The PJSIP config a `ModuleLoad` reload of res_pjsip.so reads (lines.pjsip_file)."""
        self.pjsip_loads: list[str | None] = []
        """What each accepted res_pjsip reload read from `pjsip_file` (None: no file)."""
        self.reload_error: str | None = None
        """Set: every ModuleLoad reload is refused with this Message (as Asterisk refuses
        a reload in progress, or a module that failed to initialise)."""
        self.modules = {"res_pjsip.so", "chan_pjsip.so", "app_queue.so", "res_agi.so"}
        self.actions: list[AmiMessage] = []
        """Every action received, across connections and restarts, in order."""
        self.raw_actions: list[bytes] = []
        """The same, as the bytes read from the wire."""
        self.received_at: list[float] = []
        """The same, when each arrived (`time.monotonic()`, the clock of the event loop)."""
        self.connections = 0
        """TCP connections accepted (a refused one while down is not counted)."""
        self.logins = 0
        self.failed_logins = 0
        self.generation = 0
        """Incremented by each `restart()`: the "process" a session belongs to."""
        self._captures = {name: Capture.load(name) for name in CAPTURES}
        self._main = self._captures["originate"]
        self._queue = self._captures["queue"]
        self._login = self._captures["login"]
        self.banner = self._main.banners[0]
        self._fully_booted = [m for m in self._main.events() if parse(m).name == "FullyBooted"]
        self._responders: dict[str, Responder | None] = {}
        self._sessions: set[_Session] = set()
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()
        self._handlers: set[asyncio.Task[None]] = set()

    # Lifecycle

    async def start(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> FakeAmi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def restart(self, down_for: float = 0.0) -> None:
        """Asterisk restarts: every connection closes, nothing listens for `down_for`
        seconds, then a new "process" (fresh challenges, no sessions) on the same port."""
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if down_for:
            await asyncio.sleep(down_for)
        self.generation += 1
        await self.start()

    # Controls

    def on_action(self, name: str, responder: Responder | None) -> None:
        """Answer the action `name` (any case) with `responder`; None: never answer."""
        self._responders[name.lower()] = responder

    def fail_action(self, name: str, message: str = "Permission denied") -> None:
        """Answer `name` with `Response: Error` and `message`."""
        self.on_action(name, lambda action: error(message))

    def stall(self) -> None:
        """Every current connection goes silent: input ignored, nothing written, socket
        left open (a half-open TCP connection). New connections are served normally."""
        for session in self._sessions:
            session.stalled = True

    async def drop(self) -> None:
        """Close every connection at once (reset, no Goodbye)."""
        for session in list(self._sessions):
            session.closing = True
            transport = session.writer.transport
            transport.abort()
        self._sessions.clear()
        await asyncio.sleep(0)

    async def send_event(self, headers: Headers, *, split_at: Sequence[int] = ()) -> int:
        """Send one event to every logged-in connection that wants events; how many."""
        return await self.send_raw(encode(headers), split_at=split_at)

    async def send_raw(
        self, data: bytes, *, split_at: Sequence[int] = (), pause: float = 0.01
    ) -> int:
        """Send bytes as they are to every logged-in connection that wants events, cut
        into separate writes at the `split_at` offsets; how many connections got them."""
        sent = 0
        for session in list(self._sessions):
            if session.authenticated and session.events:
                sent += await session.write(data, split_at, pause)
        return sent

    async def send_garbage(self) -> int:
        """Bytes that are not AMI (binary junk ending in a blank line)."""
        return await self.send_raw(b"\x00\x17\xfe\xff garbage\r\n\x01\x02\r\n\r\n")

    async def replay(
        self,
        capture: str,
        *,
        chunk_size: int | None = None,
        repeat: int = 1,
        pause: float = 0.01,
    ) -> int:
        """Stream a capture's events (not its responses or list items) byte for byte, in
        order, `repeat` times; `chunk_size` cuts the stream into writes of that many bytes
        (a pause between them). The number of events sent to each connection."""
        events = self.capture(capture).events()
        data = b"".join(events) * repeat
        split_at: Iterable[int] = ()
        if chunk_size:
            split_at = range(chunk_size, len(data), chunk_size)
        await self.send_raw(data, split_at=list(split_at), pause=pause)
        return len(events) * repeat

    def capture(self, name: str) -> Capture:
        """A capture by short name (`originate`, `queue`, `login`) or file name."""
        if name not in self._captures:
            self._captures[name] = Capture.load(name)
        return self._captures[name]

    # Observation

    def actions_named(self, name: str) -> list[AmiMessage]:
        wanted = name.lower()
        return [a for a in self.actions if (a.get("Action") or "").lower() == wanted]

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until `predicate()` holds (checked after every change of the fake);
        TimeoutError after `within` seconds."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_for_action(self, name: str, count: int = 1, within: float = 5.0) -> AmiMessage:
        """The `count`-th action called `name` received (waits for it)."""
        await self.wait_until(lambda: len(self.actions_named(name)) >= count, within)
        return self.actions_named(name)[count - 1]

    async def wait_for_logins(self, count: int, within: float = 5.0) -> None:
        await self.wait_until(lambda: self.logins >= count, within)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # Serving

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        session = _Session(reader, writer, self.generation)
        self._sessions.add(session)
        self.connections += 1
        await self._notify()
        try:
            await session.write(self.banner)
            await self._serve(session)
        except (ConnectionError, OSError):
            pass
        finally:
            self._sessions.discard(session)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _serve(self, session: _Session) -> None:
        buffer = b""
        while not session.closing:
            data = await session.reader.read(65536)
            if not data:
                return
            if session.stalled:
                continue
            buffer += data
            while END in buffer and not session.closing:
                raw, _, buffer = buffer.partition(END)
                raw = raw.lstrip(b"\r\n")
                if not raw:
                    continue
                action = parse(raw)
                self.actions.append(action)
                self.raw_actions.append(raw + END)
                self.received_at.append(time.monotonic())
                await self._notify()
                await self._answer(session, action)

    async def _answer(self, session: _Session, action: AmiMessage) -> None:
        name = (action.get("Action") or "").lower()
        action_id = action.action_id
        if not session.authenticated and name not in {"login", "challenge", "logoff"}:
            await session.write(_as_bytes(error("Permission denied"), action_id))
            return
        if name in self._responders:
            responder = self._responders[name]
            if responder is None:
                return
            result = responder(action)
            replies = await result if inspect.isawaitable(result) else result
            for reply in _flatten(replies):
                await session.write(_as_bytes(reply, action_id))
            return
        default = getattr(self, f"_default_{name}", None)
        if default is not None:
            await default(session, action)
        elif self.dongle and name in {"dongleshowdevices", "donglesendsms"}:
            await self._dongle(session, action, name)
        else:
            await self._unknown(session, action)

    def _template(self, capture: Capture, captured_id: str, action_id: str | None) -> list[bytes]:
        return [with_action_id(raw, action_id or "") for raw in capture.reply(captured_id)]

    async def _send_all(self, session: _Session, messages: Iterable[bytes]) -> None:
        await session.write(b"".join(messages))

    async def _default_challenge(self, session: _Session, action: AmiMessage) -> None:
        if (action.get("AuthType") or "").lower() != "md5":
            await session.write(_as_bytes(error("Must specify AuthType"), action.action_id))
            return
        session.challenge = str(secrets.randbelow(10**9))
        (raw,) = self._template(self._login, "ch-1", action.action_id)
        await session.write(replace_header(raw, "Challenge", session.challenge))

    def _login_ok(self, session: _Session, action: AmiMessage) -> bool:
        if action.get("Username") != self.username:
            return False
        if (action.get("AuthType") or "").lower() == "md5":
            if session.challenge is None:
                return False
            expected = hashlib.md5(
                (session.challenge + self.secret).encode(), usedforsecurity=False
            ).hexdigest()
            return (action.get("Key") or "").lower() == expected
        return action.get("Secret") == self.secret

    async def _default_login(self, session: _Session, action: AmiMessage) -> None:
        if not self._login_ok(session, action):
            self.failed_logins += 1
            await self._notify()
            await self._send_all(
                session, self._template(self._login, "bad-login", action.action_id)
            )
            session.closing = True  # Asterisk ends the session after a refused login
            return
        session.authenticated = True
        session.events = (action.get("Events") or "on").lower() != "off"
        self.logins += 1
        await self._notify()
        replies = self._template(self._main, "login-1", action.action_id)
        if session.events:
            replies += self._fully_booted
        await self._send_all(session, replies)

    async def _default_logoff(self, session: _Session, action: AmiMessage) -> None:
        await self._send_all(session, self._template(self._main, "bye-1", action.action_id))
        session.closing = True

    async def _default_ping(self, session: _Session, action: AmiMessage) -> None:
        if self.answer_ping:
            await self._send_all(session, self._template(self._main, "ping-1", action.action_id))

    async def _default_command(self, session: _Session, action: AmiMessage) -> None:
        await self._send_all(session, self._template(self._main, "cmd-1", action.action_id))

    async def _default_getvar(self, session: _Session, action: AmiMessage) -> None:
        (raw,) = self._template(self._main, "gv-1", action.action_id)
        await session.write(replace_header(raw, "Variable", action.get("Variable") or ""))

    async def _default_userevent(self, session: _Session, action: AmiMessage) -> None:
        replies = self._template(self._main, "ue-1", action.action_id)
        body = [(k, v) for k, v in action.headers if k.lower() != "action"]
        replies.append(encode([("Event", "UserEvent"), ("Privilege", "user,all"), *body]))
        await self._send_all(session, replies)

    async def _default_originate(self, session: _Session, action: AmiMessage) -> None:
        await self._send_all(session, self._template(self._main, "orig-1", action.action_id))

    async def _default_coreshowchannels(self, session: _Session, action: AmiMessage) -> None:
        await self._send_all(session, self._template(self._main, "csc-1", action.action_id))

    async def _default_queuestatus(self, session: _Session, action: AmiMessage) -> None:
        await self._send_all(session, self._template(self._queue, "qs-1", action.action_id))

    async def _default_moduleload(self, session: _Session, action: AmiMessage) -> None:
        """manager.c's ModuleLoad, reload branch (hand-made: its ack and error texts).
        An accepted reload of res_pjsip.so reads `pjsip_file` at that moment."""
        module = action.get("Module") or ""
        if (action.get("LoadType") or "").lower() != "reload":
            reply = error("Incomplete ModuleLoad action.")
        elif module not in self.modules:
            reply = error("No such module.")
        elif self.reload_error is not None:
            reply = error(self.reload_error)
        else:
            if module == "res_pjsip.so":
                path = self.pjsip_file
                text = path.read_text("utf-8") if path is not None and path.exists() else None
                self.pjsip_loads.append(text)
            reply = success(Message="Module reloaded.")
        await session.write(_as_bytes(reply, action.action_id))
        await self._notify()

    async def _unknown(self, session: _Session, action: AmiMessage) -> None:
        (raw,) = self._template(self._main, "bad-1", action.action_id)
        name = action.get("Action") or ""
        await session.write(raw.replace(b"command: NoSuchAction.", f"command: {name}.".encode()))

    async def _dongle(self, session: _Session, action: AmiMessage, name: str) -> None:
        t = dongle_templates()
        action_id = action.action_id or ""
        device = action.get("Device") or "dongle0"
        if name == "donglesendsms":
            text = t["DongleSendSMS_success"].format(
                action_id=action_id, device=device, id=f"0x{secrets.token_hex(6)}"
            )
        else:
            text = t["DongleShowDevices_start"].format(action_id=action_id)
            text += t["DongleDeviceEntry"].format(action_id=action_id, device=device)
            text += t["DongleShowDevicesComplete"].format(action_id=action_id, count=1)
        await session.write(text.encode("utf-8"))
