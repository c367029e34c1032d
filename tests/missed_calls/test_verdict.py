"""`why_not_missed` decides from the facts alone: each rule of the module docstring, in
its order, on facts built by hand (no events, no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from missed_calls.calls import CallFacts, why_not_missed

AN_INBOUND_CALL_NOBODY_TOOK = CallFacts(
    started=datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
    connected=False,
    inbound_rows=(),
    inbound=True,
    placed=frozenset(),
    queues_joined=("support",),
    in_counted_queue=True,
    has_rows=True,
    answered_by_dialplan=True,
)


@pytest.mark.parametrize(
    ("changes", "require_queue", "why"),
    [
        ({}, False, None),
        ({"placed": frozenset({"pbxbridge-campaign"})}, False, "placed by pbxbridge"),
        ({"placed": frozenset({"x"}), "connected": True}, False, "placed by pbxbridge"),
        ({"connected": True}, False, "connected"),
        ({"inbound": False}, False, "not inbound"),
        ({"in_counted_queue": False}, False, "waited only in queues not tracked: support"),
        ({"queues_joined": (), "answered_by_dialplan": False}, False, None),
        ({"queues_joined": (), "answered_by_dialplan": False}, True, "require_queue"),
        ({"queues_joined": (), "has_rows": False}, False, "no Cdr rows"),
        ({"queues_joined": ()}, False, "answered by the dialplan"),
    ],
)
def test_the_verdict_follows_the_rules_in_order(
    changes: dict[str, object], require_queue: bool, why: str | None
) -> None:
    facts = replace(AN_INBOUND_CALL_NOBODY_TOOK, **changes)  # type: ignore[arg-type]
    verdict = why_not_missed(facts, require_queue=require_queue)
    if why is None:
        assert verdict is None
    else:
        assert verdict is not None
        assert why in verdict
