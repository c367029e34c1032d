"""Every error the call-file spooler raises, as one tree (httpx's `_exceptions.py` is the
model):

    PbxbridgeError                   (primitives.errors)
    └── CallfileSpoolerError         anything about campaigns, callbacks or call files refused
        ├── CampaignError            a campaign operation that cannot be done
        ├── CallbackError            a callback request that cannot even be recorded
        ├── AudioError               a campaign message that cannot be converted or stored
        │   └── AudioUnavailable     ffmpeg or the sounds folder, not the file, is at fault
        ├── NumbersFileError         a numbers file that cannot be read at all
        ├── ScheduleError            a time, window or weekly schedule that is not one
        ├── CallFileValueError       a value a call file cannot carry as it is
        └── SpoolError               the spool folder cannot be used as configured
            └── SpoolMissing         outgoing/ is not there yet (Asterisk creates it)

A caller (the CLI, the staff bot) catches `CallfileSpoolerError`, never a tuple.
`NumbersFileError`, `ScheduleError` and `CallFileValueError` are `ValueError`s too: they are
raised where a value is parsed (a pydantic validator turns a `ValueError` into its message).
Every message is one line that says what is wrong (and what to fix), fit to show as is.
"""

from __future__ import annotations

from pathlib import Path

from primitives.errors import PbxbridgeError


class CallfileSpoolerError(PbxbridgeError):
    """Base of every call-file spooler error."""


class CampaignError(CallfileSpoolerError):
    """A campaign operation that cannot be done; the message says why."""


class CallbackError(CallfileSpoolerError):
    """A request that cannot even be recorded (callbacks off, not a phone number)."""


class AudioError(CallfileSpoolerError):
    """The audio cannot be used; the message says why (and what to install, if that is it)."""


class AudioUnavailable(AudioError):
    """Not the file's fault: this service cannot convert or store messages now (ffmpeg
    missing or unable to write a format, spool.sounds_dir not writable)."""


class NumbersFileError(CallfileSpoolerError, ValueError):
    """The whole file cannot be read (not CSV/JSON, no `number` column…); nothing lands."""


class ScheduleError(CallfileSpoolerError, ValueError):
    """A schedule or time window that cannot be read; the message says what is wrong."""


class CallFileValueError(CallfileSpoolerError, ValueError):
    """A value that cannot be written into a call file as it is; never written."""


class SpoolError(CallfileSpoolerError):
    """The spool folder cannot be used as configured; the message says what to fix."""


class SpoolMissing(SpoolError):
    """Asterisk's outgoing/ is not there (yet): pbx_spool creates it when it loads, so at
    boot or before Asterisk is installed this is a wait, not a fault."""

    def __init__(self, outgoing: Path) -> None:
        self.outgoing = outgoing
        super().__init__(
            f"{outgoing} does not exist: Asterisk creates it when pbx_spool loads; "
            "is spool.dir Asterisk's astspooldir?"
        )

    @property
    def waiting(self) -> str:
        """What the service does meanwhile, in the words `check` and the log both use."""
        return f"waiting for Asterisk's {self.outgoing} (campaigns and callbacks wait)"
