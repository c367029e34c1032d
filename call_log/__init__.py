"""call_log: every call pbxbridge heard of, one row per call (its `Cdr` legs grouped by
linkedid), in the `calls` table.

The AMI events are read here (`events`: typed, checked values) and a complete call's legs
are summed up here (`summary`); missed_calls' tracker groups the events of calls in
progress, decides each complete call (missed or not) and writes it through `CallLogStore`.
Missed calls are rows of this table with `missed` true: missed_calls/ reads them, marks
them recalled and keeps its daily statistics on top (no second store). Readers: the CLI
(`pbxbridge calls list`), the REST API (`/api/v1/calls`) and the Askozia face
(`CallLogCdrSource`, askozia_api/call_log_cdr.py).
"""

from call_log.migrations import VERSIONS
from call_log.records import Call, CallEntry
from call_log.store import CallLogStore

__all__ = ["VERSIONS", "Call", "CallEntry", "CallLogStore"]
