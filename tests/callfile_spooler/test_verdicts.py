"""The spooler's decisions as pure functions: the attempt state machine (`ledger.step`)
and what becomes of due attempts (`spooler.plan_spool`), without a database or a folder."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, cast

import pytest

from callfile_spooler.campaigns import CampaignInfo, CampaignSettings
from callfile_spooler.dialing import Dialer
from callfile_spooler.ledger import Step, step
from callfile_spooler.outcomes import AttemptStatus as S
from callfile_spooler.outcomes import CampaignState
from callfile_spooler.settings import SpoolSettings
from callfile_spooler.spooler import plan_spool
from primitives.phones import PhoneNormaliser

if TYPE_CHECKING:
    from callfile_spooler.ledger import DueAttempt

USER_BUSY = 17  # Q.850


@pytest.mark.parametrize(
    ("status", "new", "cause", "expected"),
    [
        (S.SPOOLED, None, None, Step(S.SPOOLED)),
        (S.SPOOLED, S.DIALING, None, Step(S.DIALING)),
        (S.DIALING, S.ANSWERED, None, Step(S.ANSWERED, final=True)),
        (S.SPOOLED, S.NOANSWER, None, Step(S.NOANSWER, final=True)),
        (S.DIALING, S.EXPIRED, USER_BUSY, Step(S.BUSY, final=True)),
        (S.DIALING, S.EXPIRED, None, Step(S.EXPIRED, final=True)),
        (S.EXPIRED, S.BUSY, None, Step(S.BUSY, refines=True)),
        (S.EXPIRED, S.EXPIRED, None, Step(S.EXPIRED)),
        (S.EXPIRED, S.ANSWERED, None, Step(S.EXPIRED)),
        (S.ANSWERED, S.FAILED, None, Step(S.ANSWERED)),
        (S.BUSY, S.NOANSWER, None, Step(S.BUSY)),
        (S.QUEUED, S.FAILED, None, Step(S.QUEUED)),
    ],
)
def test_step_is_the_attempt_state_machine(
    status: S, new: S | None, cause: int | None, expected: Step
) -> None:
    assert step(status, new, cause) == expected


def test_plan_spool_decides_each_due_attempt() -> None:
    info = CampaignInfo(
        id=7,
        name="april",
        kind="campaign",
        state=CampaignState.RUNNING,
        settings=CampaignSettings(),
        run_no=1,
        last_run_on=date(2026, 4, 1),
        started_at=None,
        finished_at=None,
    )
    rows = [
        (1, 11, "+380501234567", None, json.dumps({"NAME": "Ivan"}), False),
        (2, 12, "+380501234568", None, "{}", True),
        (3, 13, "+48601234567", None, "{}", False),
    ]
    due = cast("list[DueAttempt]", rows)  # the ledger's rows unpack like these tuples
    home_only = SpoolSettings(dial_format="0{national_significant}", international_format="")
    plan = plan_spool(info, due, Dialer(home_only, PhoneNormaliser("UA")))
    assert plan.campaign == "april"
    assert [name for name, _ in plan.files] == ["pbxbridge-7-1.call"]
    assert plan.calls["pbxbridge-7-1.call"].attempt_id == 1
    assert plan.calls["pbxbridge-7-1.call"].status == S.SPOOLED
    assert plan.cancelled == ((2, 12),)
    assert list(plan.refused) == [3]
    assert plan.refused[3][0] == 13
    assert "not a UA number" in plan.refused[3][1]
