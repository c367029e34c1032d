"""Jobs that are Ubilling remoteapi actions: a crontab's `/bin/ubapi "swping"` line as a job.

The action string is written as after /bin/ubapi (`fullhostscan&param=traffdiff&nn=1`):
the action, then its parameters. The request goes through the Ubilling backend's one HTTP
session (billing_client.ubilling.http: the key added there, never logged); the answer is
read by billing_client.ubilling.actions. An answer that is a failure raises ActionFailed
quoting it; Ubilling's "already running" answers are skipped runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl

from billing_client.ubilling.actions import ActionAnswer, ActionOutcome
from jobs.errors import ActionFailed
from jobs.job import Body
from primitives.job_result import JobResult


@runtime_checkable
class PeriodicActions(Protocol):
    """What runs a remoteapi action (billing_client.ubilling.UbillingBackend is one): its
    answer read, or a failed one saying why none came; it raises nothing of its own."""

    async def periodic_action(
        self, action: str, params: Sequence[tuple[str, str]] = ()
    ) -> ActionAnswer: ...


def split_action(line: str) -> tuple[str, list[tuple[str, str]]]:
    """`fullhostscan&param=traffdiff&nn=1` → (`fullhostscan`, [(param, traffdiff), (nn, 1)])."""
    action, _, query = line.partition("&")
    return action, parse_qsl(query, keep_blank_values=True)


def action_body(ubilling: PeriodicActions, line: str) -> Body:
    """The job body that sends the action of `line` and checks its answer."""
    action, params = split_action(line)

    async def run() -> JobResult:
        answer = await ubilling.periodic_action(action, params)
        if answer.outcome is ActionOutcome.FAILED:
            quoted = f": {answer.quote!r}" if answer.quote else ""
            raise ActionFailed(
                f"{action}: {answer.reason}{quoted}", nothing_done=answer.nothing_done
            )
        return JobResult(
            f"Ubilling answered {answer.quote!r}",
            answer.counts or {},
            skipped=answer.outcome is ActionOutcome.SKIPPED,
        )

    return run
