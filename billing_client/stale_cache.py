"""Last answers seen, kept to stand in (marked stale) while the billing fails."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from billing_client.subscriber import SubscriberInfo


class StaleCache:
    """A bounded LRU of number → (when, SubscriberInfo). Never answers while the billing works."""

    def __init__(
        self, ttl: float, max_entries: int = 50_000, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._now = monotonic
        self._entries: OrderedDict[str, tuple[float, SubscriberInfo]] = OrderedDict()

    def put(self, number: str, info: SubscriberInfo) -> None:
        if self._ttl <= 0:
            return
        self._entries[number] = (self._now(), info)
        self._entries.move_to_end(number)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    @property
    def size(self) -> int:
        """Numbers held (some may be past their ttl until next asked for). A property, not
        `__len__`: an empty cache must not be falsy (`stale or StaleCache(0)`)."""
        return len(self._entries)

    def get(self, number: str) -> SubscriberInfo | None:
        entry = self._entries.get(number)
        if entry is None:
            return None
        seen, info = entry
        if self._now() - seen > self._ttl:
            del self._entries[number]
            return None
        return info

    def drop_login(self, login: str) -> None:
        for number in [n for n, (_, i) in self._entries.items() if i.login == login]:
            del self._entries[number]
