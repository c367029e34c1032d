"""Failed logins to the faces, logged once per interval per client, never with the secret.

Someone guessing the remoteapi key or the Askozia password sends thousands of requests; a
log line each would bury the log and tell nothing more than a count. The first failure of
a client in an interval is logged (with what was wrong, never what was sent); the rest are
counted, and the client's next failure after the interval logs the count. At most
`max_clients` clients are remembered (the longest quiet goes first), so a flood from many
addresses costs bounded memory; one forgotten early only gets its next line sooner.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from primitives.clock import Clock

log = logging.getLogger("pbxbridge.faces")


@dataclass
class _Seen:
    since: datetime
    """When the line of this interval was logged."""
    suppressed: int = 0


class AuthFailures:
    def __init__(self, clock: Clock, *, interval: float = 60.0, max_clients: int = 1024) -> None:
        self._clock = clock
        self._interval = timedelta(seconds=interval)
        self._max = max_clients
        self._seen: OrderedDict[str, _Seen] = OrderedDict()

    def note(self, face: str, client: str, what: str) -> bool:
        """Count a failed login of `client` to `face` (`what` says what was wrong, in words:
        never the key or password sent). True when this one was logged."""
        now = self._clock.now()
        key = f"{face} {client}"
        seen = self._seen.get(key)
        if seen is not None and now - seen.since < self._interval:
            seen.suppressed += 1
            self._seen.move_to_end(key)
            return False
        earlier = ""
        if seen is not None and seen.suppressed:
            earlier = f" ({seen.suppressed:,} more failed since the last line)"
        log.warning(
            "%s: refused a request from %s: %s%s; further failures from it are counted for %d s",
            face,
            client,
            what,
            earlier,
            int(self._interval.total_seconds()),
        )
        self._seen[key] = _Seen(now)
        self._seen.move_to_end(key)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True

    @property
    def clients(self) -> int:
        """Clients remembered now (bounded by max_clients)."""
        return len(self._seen)
