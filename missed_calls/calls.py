"""Calls in progress, grouped from AMI events, and the decision made when one is complete.

**Grouping.** A call is everything sharing a linkedid. Channel events (Newchannel, Hangup,
Queue*, DialEnd, BridgeEnter, AgentConnect) carry Uniqueid and Linkedid, and teach a
bounded uniqueid → linkedid map. `Cdr` events carry only UniqueID: a row joins the call its
uniqueid maps to, or, when no channel event named that uniqueid yet, a call of its own
keyed by the uniqueid, which is merged into the linkedid's call as soon as any channel
event links the two. (Local channels give one call several rows: one per leg.)

**Completion.** A call is complete when every channel seen for it has hung up and then
nothing arrived for `flush_delay` seconds, because Asterisk sends some Cdr events after the
last Hangup (see the capture: the `;1` leg's row follows its Hangup). A call known only
from Cdr rows (its channels were never seen) has no live channel, so the same quiet delay
applies. A call whose Hangup was lost (AMI reconnect) is decided after `stale_after` seconds
without events. The tracker runs the timers; this module only keeps state and decides.

**Decision** (`decide`). A call is *connected* when two parties were joined: AgentConnect,
a DialEnd with DialStatus ANSWER, a BridgeEnter making a talking bridge of two or more, or
a Cdr row ANSWERED with a destination channel. A call is *missed* when it is inbound (a row
with the inbound userfield or context, a channel created in an inbound context, or it
joined a queue), is not connected, and either

* it waited in a queue that counts (QueueCallerJoin; abandoned or timed out). A row
  ANSWERED with no destination does not save it: pbxbridge's own dialplan Answer()s every
  call for the IVR before the queue; or
* it waited in no queue (unless `require_queue`) and no row at all is ANSWERED: no person
  and no IVR took it. A call the IVR answered and served is not missed.

The caller's number is the source of the inbound row, else the CallerIDNum the queue saw,
else the first row's source, else the caller ID of the call's first channel.

**Calls pbxbridge placed** (campaign and callback call files) are never missed, whatever
queue they waited in: an operator-first callback rings the queue from a Local channel with
the customer's number as CallerID, and nobody answering it is no call from the customer.
Such a call has a channel created in one of `outbound_contexts` (a Local channel's
Newchannel names the context it was dialled into: `Local/support@pbxbridge-callback-queue`
shows Context pbxbridge-callback-queue on both legs), or a Cdr row whose DestinationContext
is one, which still holds when the call's Newchannel events were lost. (The call files'
CAMPAIGN_ID variable is no help: it is set after Newchannel, and other events carry it only
with manager.conf's channelvars.) For these calls only the numbers pbxbridge dialled count:
a row with such a destination answered by a party recalls it, else the numbers dialled are
unsuccessful attempts. Being *connected* says nothing here: an operator taking an
operator-first callback connects two parties before the customer's phone even rings.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from call_log.events import (
    CdrRow,
    Channel,
    ChannelGone,
    ChannelsSeen,
    ChannelUp,
    Event,
    Parsed,
    QueueAbandon,
    QueueJoin,
    QueueLeave,
    Recording,
)
from call_log.models import FILE_MAX, NUMBER_MAX
from call_log.records import CallEntry, Direction
from call_log.summary import Legs, legs
from missed_calls.settings import MissedCallSettings
from primitives.phones import PhoneNormaliser

MAX_ROWS = 64
MAX_CHANNELS = 256
MAX_QUEUES = 16
MAX_WAIT_SECONDS = 86_400


@dataclass
class CallState:
    key: str
    first_seen: datetime
    last_seen: datetime
    channels: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    contexts: set[str] = field(default_factory=set)
    rows: list[CdrRow] = field(default_factory=list)
    queues_joined: list[str] = field(default_factory=list)
    queue: str | None = None
    queue_position: int | None = None
    queue_join_at: datetime | None = None
    queue_left_at: datetime | None = None
    hold_time: int | None = None
    connected: bool = False
    queue_caller: str = ""
    own_caller: str = ""
    channel_events: int = 0
    recording: str | None = None

    def merge(self, other: CallState) -> None:
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.channels |= other.channels
        self.gone |= other.gone
        self.live = (self.live | other.live) - self.gone
        self.contexts |= other.contexts
        self.rows.extend(other.rows[: MAX_ROWS - len(self.rows)])
        for queue in other.queues_joined:
            if len(self.queues_joined) < MAX_QUEUES:
                self.queues_joined.append(queue)
        if self.queue is None and other.queue is not None:
            self.queue = other.queue
            self.queue_position = other.queue_position
            self.queue_join_at = other.queue_join_at
        self.queue_left_at = self.queue_left_at or other.queue_left_at
        self.hold_time = self.hold_time if self.hold_time is not None else other.hold_time
        self.connected = self.connected or other.connected
        self.queue_caller = self.queue_caller or other.queue_caller
        self.own_caller = self.own_caller or other.own_caller
        self.channel_events += other.channel_events
        self.recording = self.recording or other.recording


@dataclass(frozen=True, slots=True)
class Missed:
    number: str
    raw_number: str
    number_valid: bool
    queue: str | None
    queue_position: int | None
    waited_seconds: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a complete call means for missed calls.

    `recall_numbers`: the numbers a connected call joined us with (open misses of these are
    recalled). `dialled_numbers`: numbers an outbound call tried without being answered
    (unsuccessful recall attempts when a miss of that number is open).
    """

    key: str
    started: datetime
    ended: datetime
    connected: bool
    missed: Missed | None
    why: str
    recall_numbers: frozenset[str] = frozenset()
    dialled_numbers: frozenset[str] = frozenset()
    entry: CallEntry | None = None
    """The call as the call log records it: None for a call with no Cdr row that is not
    missed either (nothing to log: cdr_manager off, or only channel events came)."""


def _caller_id(value: str) -> str:
    """A caller ID worth keeping: not empty and not Asterisk's `<unknown>` placeholder."""
    return "" if not value or value.startswith("<") else value


class CallBook:
    """Calls in progress and the uniqueid → linkedid map. No I/O, no timers."""

    def __init__(self, settings: MissedCallSettings) -> None:
        self._settings = settings
        self._links: OrderedDict[str, str] = OrderedDict()
        self._open: OrderedDict[str, CallState] = OrderedDict()
        self._decided: OrderedDict[str, None] = OrderedDict()
        self._merged: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    @property
    def tracked_channels(self) -> int:
        """Entries of the uniqueid → linkedid map."""
        return len(self._links)

    def open_keys(self) -> list[str]:
        """Keys of the calls in progress (a copy: safe to decide them while iterating)."""
        return list(self._open)

    def is_quiet(self, key: str) -> bool:
        """No channel of the call is up (as far as events told)."""
        call = self._open.get(key)
        return call is not None and not call.live

    def pop(self, key: str) -> CallState | None:
        """Take the call out for its decision; later events for it are ignored."""
        call = self._open.pop(key, None)
        if call is not None:
            self._remember_decided(key)
        return call

    def over_limit(self) -> list[str]:
        """The oldest calls beyond max_open_calls (to be decided early)."""
        extra = len(self._open) - self._settings.max_open_calls
        return list(self._open)[:extra] if extra > 0 else []

    def apply(self, event: Event, now: datetime) -> str | None:
        """Fold one event into its call. Returns the call's key, None when ignored (an
        event of a call already decided)."""
        body = event.body
        if isinstance(body, CdrRow):
            key = self._link(body.uniqueid, body.linkedid)
            call = self._call(key, now)
            if call is None:
                return None
            if len(call.rows) < MAX_ROWS:
                call.rows.append(body)
            return key
        channels = body.channels if isinstance(body, ChannelsSeen) else (body.channel,)
        keys = [self._link(c.uniqueid, c.linkedid) for c in channels]
        key = keys[0]
        call = self._call(key, now)
        if call is None:
            return None
        call.channel_events += 1
        for channel, channel_key in zip(channels, keys, strict=True):
            if channel_key == key:
                self._saw(call, channel, gone=isinstance(body, ChannelGone))
        self._learn(call, body, now)
        return key

    # -- internals -----------------------------------------------------------------------

    def _remember_decided(self, key: str) -> None:
        self._decided[key] = None
        self._decided.move_to_end(key)
        while len(self._decided) > self._settings.max_tracked_channels:
            self._decided.popitem(last=False)

    def _link(self, uniqueid: str, linkedid: str | None) -> str:
        """The call key of a channel. Learning its linkedid merges the call kept under the
        uniqueid (Cdr rows seen first) or under an older linkedid (Asterisk hands bridged
        channels the oldest linkedid) into the linkedid's call."""
        if linkedid is None:
            return self._resolve(self._links.get(uniqueid, uniqueid))
        previous = self._links.get(uniqueid)
        self._bounded_put(self._links, uniqueid, linkedid)
        target = self._resolve(linkedid)
        source = self._resolve(previous if previous is not None else uniqueid)
        if source != target and source in self._open and target not in self._decided:
            moved = self._open.pop(source)
            existing = self._open.get(target)
            if existing is None:
                moved.key = target
                self._open[target] = moved
            else:
                existing.merge(moved)
            self._bounded_put(self._merged, source, target)
        return target

    def _resolve(self, key: str) -> str:
        """Where a merged call went (its events keep coming under the old key)."""
        for _ in range(8):
            merged_into = self._merged.get(key)
            if merged_into is None:
                break
            key = merged_into
        return key

    def _bounded_put(self, mapping: OrderedDict[str, str], key: str, value: str) -> None:
        mapping[key] = value
        mapping.move_to_end(key)
        while len(mapping) > self._settings.max_tracked_channels:
            mapping.popitem(last=False)

    def _call(self, key: str, now: datetime) -> CallState | None:
        if key in self._decided:
            return None
        call = self._open.get(key)
        if call is None:
            call = self._open[key] = CallState(key=key, first_seen=now, last_seen=now)
        call.last_seen = max(call.last_seen, now)
        return call

    def _learn(self, call: CallState, body: Parsed, now: datetime) -> None:
        """What a channel event says about the call beyond its channels: the contexts it
        went through, the queue it waited in, whether two parties were joined."""
        if isinstance(body, ChannelUp) and body.channel.context:
            if len(call.contexts) < MAX_QUEUES:
                call.contexts.add(body.channel.context)
        elif isinstance(body, QueueJoin):
            self._joined(call, body.queue, body.position, now)
            call.queue_caller = call.queue_caller or _caller_id(body.channel.caller_num)
        elif isinstance(body, QueueAbandon):
            self._joined(call, body.queue, body.position, now)
            call.hold_time = body.hold_time
            call.queue_left_at = call.queue_left_at or now
        elif isinstance(body, QueueLeave):
            call.queue_left_at = call.queue_left_at or now
        elif isinstance(body, ChannelsSeen) and body.connected:
            call.connected = True
        elif isinstance(body, Recording):
            call.recording = body.filename[:FILE_MAX]

    @staticmethod
    def _saw(call: CallState, channel: Channel, *, gone: bool) -> None:
        if len(call.channels) < MAX_CHANNELS:
            call.channels.add(channel.uniqueid)
        if gone:
            call.live.discard(channel.uniqueid)
            call.gone.add(channel.uniqueid)
        elif channel.uniqueid not in call.gone and len(call.live) < MAX_CHANNELS:
            call.live.add(channel.uniqueid)
        if channel.uniqueid == call.key:
            call.own_caller = _caller_id(channel.caller_num) or call.own_caller

    def _joined(self, call: CallState, queue: str, position: int | None, now: datetime) -> None:
        if queue not in call.queues_joined and len(call.queues_joined) < MAX_QUEUES:
            call.queues_joined.append(queue)
        counted = not self._settings.queues or queue in self._settings.queues
        if counted and call.queue is None:
            call.queue = queue
            call.queue_position = position
            call.queue_join_at = now
        elif counted and call.queue == queue and call.queue_position is None:
            call.queue_position = position


def number_key(raw: str, phones: PhoneNormaliser, min_digits: int) -> tuple[str, bool] | None:
    """The number a missed call is filed and matched under: E.164 when it parses (True),
    else the raw text (False). None for internal extensions, anonymous callers and junk."""
    text = raw.strip()
    if not text or len(text) > NUMBER_MAX or any(c.isspace() and c != " " for c in text):
        return None
    if sum(c.isdigit() for c in text) < min_digits:
        return None
    normalised = phones.normalise(text)
    return (normalised, True) if normalised is not None else (text, False)


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What a complete call's events say, gathered before anything is decided."""

    started: datetime
    connected: bool
    """Two parties were joined (see the module docstring)."""
    inbound_rows: tuple[CdrRow, ...]
    """Cdr rows with the inbound userfield or an inbound context."""
    inbound: bool
    placed: frozenset[str]
    """The `outbound_contexts` the call went through: pbxbridge placed it."""
    queues_joined: tuple[str, ...]
    in_counted_queue: bool
    """It joined a queue that counts (`settings.queues`, or any when that is empty)."""
    has_rows: bool
    answered_by_dialplan: bool
    """Some Cdr row is ANSWERED (with or without a destination)."""


def call_facts(call: CallState, settings: MissedCallSettings) -> CallFacts:
    rows = call.rows
    started = call.first_seen
    if call.channel_events == 0 and rows:
        # known from Cdr rows only: they arrive at the end, so step back by the duration
        longest = max((r.duration or 0) for r in rows)
        started = call.first_seen - timedelta(seconds=min(longest, MAX_WAIT_SECONDS))
    userfield = settings.inbound_userfield.strip().lower()
    contexts = set(settings.inbound_contexts)
    inbound_rows = tuple(
        r
        for r in rows
        if (userfield and r.userfield.strip().lower() == userfield) or r.dcontext in contexts
    )
    ours = {c for c in settings.outbound_contexts if c}
    return CallFacts(
        started=started,
        connected=call.connected or any(r.answered_by_party for r in rows),
        inbound_rows=inbound_rows,
        inbound=bool(inbound_rows or call.queues_joined or (call.contexts & contexts)),
        placed=frozenset(call.contexts & ours or {r.dcontext for r in rows if r.dcontext in ours}),
        queues_joined=tuple(call.queues_joined),
        in_counted_queue=call.queue is not None,
        has_rows=bool(rows),
        answered_by_dialplan=any(r.answered for r in rows),
    )


def why_not_missed(facts: CallFacts, *, require_queue: bool) -> str | None:
    """The verdict: why the call is no missed call, or None when it is one."""
    return _not_a_caller_left_waiting(facts) or _not_abandoned(facts, require_queue=require_queue)


def _not_a_caller_left_waiting(facts: CallFacts) -> str | None:
    """A call pbxbridge placed, one that connected two parties, or an outbound one."""
    if facts.placed:
        return f"placed by pbxbridge ({', '.join(sorted(facts.placed))})"
    if facts.connected:
        return "connected"
    if not facts.inbound:
        return "not inbound"
    return None


def _not_abandoned(facts: CallFacts, *, require_queue: bool) -> str | None:
    """An inbound call nobody took: missed when it waited in a queue that counts, or
    (unless `require_queue`) when it waited in none and nothing answered it at all."""
    if facts.queues_joined:
        if facts.in_counted_queue:
            return None
        return f"waited only in queues not tracked: {', '.join(facts.queues_joined)}"
    if require_queue:
        return "waited in no queue (require_queue)"
    if not facts.has_rows:
        return "no Cdr rows (is cdr_manager on, with unanswered = yes?)"
    if facts.answered_by_dialplan:
        return "answered by the dialplan (an IVR) and not queued"
    return None


def _numbers(
    call: CallState, facts: CallFacts, settings: MissedCallSettings, phones: PhoneNormaliser
) -> tuple[frozenset[str], frozenset[str]]:
    """(recall numbers, dialled numbers) of the call: see `Outcome`."""

    def keys(values: list[str]) -> frozenset[str]:
        found = (number_key(v, phones, settings.min_number_digits) for v in values)
        return frozenset(k[0] for k in found if k is not None)

    rows = call.rows
    if facts.placed:
        recall = keys([r.dst for r in rows if r.answered_by_party])
        return recall, (frozenset() if recall else keys([r.dst for r in rows]))
    if facts.connected:
        everyone = [r.src for r in rows] + [r.dst for r in rows]
        return keys([*everyone, call.queue_caller, call.own_caller]), frozenset()
    if not facts.inbound:
        return frozenset(), keys([r.dst for r in rows])
    return frozenset(), frozenset()


def _caller(
    call: CallState, facts: CallFacts, settings: MissedCallSettings, phones: PhoneNormaliser
) -> tuple[str, tuple[str, bool] | None]:
    """The caller's number as given and its number key: the source of the inbound row,
    else the CallerIDNum the queue saw, else the first row's source, else the caller ID of
    the call's first channel. None for the key when none is usable (the number is then the
    first one given at all, to show)."""
    candidates = [r.src for r in facts.inbound_rows]
    candidates += [call.queue_caller] + [r.src for r in call.rows] + [call.own_caller]
    for raw in candidates:
        key = number_key(raw, phones, settings.min_number_digits)
        if key is not None:
            return raw.strip(), key
    return next((c for c in candidates if c), ""), None


def _waited(call: CallState, facts: CallFacts) -> int:
    """Seconds the caller waited: in the queue that counts, else the longest inbound row."""
    if call.queue is None:
        return max((r.duration or 0 for r in facts.inbound_rows or call.rows), default=0)
    if call.hold_time is not None:
        return call.hold_time
    left = call.queue_left_at or call.last_seen
    joined = call.queue_join_at or call.first_seen
    return int((left - joined).total_seconds())


def _party(
    call: CallState,
    facts: CallFacts,
    summary: Legs,
    recall: frozenset[str],
    settings: MissedCallSettings,
    phones: PhoneNormaliser,
) -> tuple[Direction, tuple[str, bool] | None]:
    """The call's direction and its outside party's number key: pbxbridge's own calls are
    outgoing (to the number dialled); an inbound one is incoming (from its caller, see
    `_caller`); else an outside caller makes it incoming, an outside callee outgoing,
    and two inside parties internal."""

    def key(raw: str) -> tuple[str, bool] | None:
        return number_key(raw, phones, settings.min_number_digits)

    if facts.placed:
        dialled = key(summary.callee) or next(((n, True) for n in sorted(recall)), None)
        return "outgoing", dialled
    if facts.inbound:
        return "incoming", _caller(call, facts, settings, phones)[1]
    source, target = key(summary.caller or call.own_caller), key(summary.callee)
    if source is not None and target is None:
        return "incoming", source
    if target is not None:
        return "outgoing", target
    return "internal", None


def _entry(
    call: CallState,
    facts: CallFacts,
    outcome: Outcome,
    settings: MissedCallSettings,
    phones: PhoneNormaliser,
) -> CallEntry | None:
    """The call-log row of a complete call (see `Outcome.entry`). Its start is the
    tracker's (the events' Timestamp, else their arrival); its length and talk time are
    the Cdr rows' (see call_log.summary), so the answer is `end - billsec` as in Asterisk."""
    missed = outcome.missed
    if not call.rows and missed is None:
        return None
    summary = legs(call.rows, facts.inbound_rows)
    direction, party = _party(call, facts, summary, outcome.recall_numbers, settings, phones)
    if facts.connected:
        disposition = "ANSWERED"
    elif missed is not None:
        disposition = "NO ANSWER"
    else:
        disposition = summary.row_disposition
    if call.rows:
        duration = summary.duration
    else:
        duration = min(max(int((outcome.ended - outcome.started).total_seconds()), 0), 86_400)
    ended = outcome.started + timedelta(seconds=duration)
    billsec = min(summary.billsec, duration) if disposition == "ANSWERED" else 0
    caller = missed.raw_number if missed is not None else summary.caller or call.own_caller
    return CallEntry(
        linkedid=outcome.key,
        caller=caller[:NUMBER_MAX],
        callee=(summary.callee or call.queue or "")[:NUMBER_MAX],
        number=party[0] if party is not None else None,
        number_valid=party[1] if party is not None else False,
        direction="incoming" if missed is not None else direction,
        disposition=disposition,
        started_at=outcome.started,
        answered_at=ended - timedelta(seconds=billsec) if disposition == "ANSWERED" else None,
        ended_at=ended,
        duration=duration,
        billsec=billsec,
        queue=call.queue or (call.queues_joined[0] if call.queues_joined else None),
        queue_position=call.queue_position,
        answered_by=summary.answered_by,
        recording=call.recording,
        missed=missed is not None,
        waited_seconds=missed.waited_seconds if missed is not None else 0,
    )


def decide(call: CallState, settings: MissedCallSettings, phones: PhoneNormaliser) -> Outcome:
    """Facts first (`call_facts`), then the verdict (`why_not_missed`); a missed call also
    gets its caller's number and how long the caller waited; then the call-log row."""
    facts = call_facts(call, settings)
    recall, dialled = _numbers(call, facts, settings, phones)
    why = why_not_missed(facts, require_queue=settings.require_queue)
    missed = None
    if why is None:
        raw, key = _caller(call, facts, settings, phones)
        if key is None:
            why = f"no usable caller number ({raw[:20]!r})"
        else:
            why = "missed"
            missed = Missed(
                number=key[0],
                raw_number=raw,
                number_valid=key[1],
                queue=call.queue,
                queue_position=call.queue_position,
                waited_seconds=min(max(_waited(call, facts), 0), MAX_WAIT_SECONDS),
            )
    outcome = Outcome(
        key=call.key,
        started=facts.started,
        ended=call.last_seen,
        connected=facts.connected,
        missed=missed,
        why=why,
        recall_numbers=recall,
        dialled_numbers=dialled,
    )
    return replace(outcome, entry=_entry(call, facts, outcome, settings, phones))
