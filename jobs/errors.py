"""What the scheduler raises. Every message is one line for the person who configured or
ran a job, and carries no secret (a Ubilling answer is quoted scrubbed of its key).

    PbxbridgeError
    └── JobError              a job could not be configured, found or run
        ├── BadSchedule       a cron expression croniter refuses, or one that never matches
        │                     (also a ValueError, so the settings report it on their key)
        ├── JobConfigError    a [[jobs]] entry that cannot be used (unknown name, no action…)
        └── JobFailed         a job's body says its work failed; `nothing_done` tells the
            │                 runner a retry cannot repeat work already done
            └── ActionFailed  a Ubilling remoteapi action answered an error, its login
                              page, a PHP error or nothing usable (the answer is quoted)

A job body may raise anything: the runner records every exception as a failure. JobFailed
is for bodies that know what went wrong and whether trying again is safe.
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class JobError(PbxbridgeError):
    """A job could not be configured, found or run."""


class BadSchedule(JobError, ValueError):
    """A cron expression that croniter does not accept, or that never matches."""


class JobConfigError(JobError):
    """A [[jobs]] entry (or the table it builds) that cannot be used."""


class JobFailed(JobError):
    """The job ran and its work failed.

    `nothing_done`: the failure came before any work (the request never left, the billing
    refused it outright), so a retry cannot repeat work; a job that is not idempotent is
    retried only then.
    """

    def __init__(self, message: str, *, nothing_done: bool = False) -> None:
        super().__init__(message)
        self.nothing_done = nothing_done


class ActionFailed(JobFailed):
    """A Ubilling remoteapi action failed; the message quotes its answer (≤ 200 chars)."""
