"""The root of every error pbxbridge raises on purpose, and the map of the trees below it.

Each room draws its own tree in `<room>/errors.py` (httpx's `_exceptions.py` is the
model): one base per room deriving from `PbxbridgeError`, and below it the cases a caller
may want to tell apart. A caller catches a room's base (or this root), never a tuple of
unrelated classes. The text of every such error is meant for a person: one line, no
secret, no traceback.

    PbxbridgeError                this module, the ground floor
    ├── AgiError                  agi/errors.py: a FastAGI session could not do it
    ├── AmiError                  ami_listener/errors.py: the AMI link could not do it
    ├── AskoziaApiError           askozia_api/errors.py: a Ubilling or Askozia face
    ├── BillingError              billing_client/errors.py: the billing could not do it
    ├── CallLogError              call_log/errors.py: the call log and the AMI events it reads
    ├── CallfileSpoolerError      callfile_spooler/errors.py: campaigns, callbacks, call files
    ├── JobError                  jobs/errors.py: a scheduled job could not be set up or run
    ├── LineError                 lines/errors.py: a voice-line command failed
    ├── MissedCallsError          missed_calls/errors.py: the missed-call tracker
    ├── NotifyError               notify/errors.py: the notifier and the staff bot
    ├── SmsError                  sms/errors.py: the SMS room
    ├── StorageError              storage/errors.py: the database room
    ├── TeleponyError             telepony/errors.py: the feed of Ubilling's TelePony table
    ├── WebError                  web/errors.py: the HTTP room
    └── WebhookError              webhooks/errors.py: the webhooks and their outbox

The root that wires the rooms (`pbxbridge/`) is no room: its few errors (SettingsError,
`pbxbridge check`'s Problem) derive from `PbxbridgeError` directly.
"""

from __future__ import annotations


class PbxbridgeError(Exception):
    """Something pbxbridge refused or could not do; the message says what and why."""
