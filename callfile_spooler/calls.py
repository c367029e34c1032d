"""The call files of campaigns with their message, and of callbacks in both modes.

`CallDialer` is the `Dialer` the service's spooler uses. It adds to `Dialer.call_file`:

* for a campaign call, `CAMPAIGN_MESSAGE`: the campaign's message without extension
  (`audio.prompt_base`), which the campaign contexts play when a `.wav` of it exists;
* for a callback (a number carrying `CALLBACK_MODE`, see `callbacks`):
  - `customer_first`: the customer's channel as for any campaign call, ringing
    `callback.ring_time` seconds; the context queues the answered customer;
  - `operator_first`: the channel is the operators' side (`callback.operator_channel`, a
    Local channel into the queue), waiting `callback.operator_wait_time` seconds, with the
    customer's number as CallerID (operators see whom they call back); the connect context
    then Dial()s `CALLBACK_CHANNEL` (the customer's channel, built as for any call).

Variables a number may carry from its import (`VAR_dtmf`, `VAR_CALLEE` columns, as the
original call-out service's files set them) are `NUMBER_VARIABLES`; the IVR context reads them.
"""

from __future__ import annotations

import re
from dataclasses import replace

from callfile_spooler import escape
from callfile_spooler.audio import prompt_base
from callfile_spooler.callfile import CallFile
from callfile_spooler.dialing import VAR_ATTEMPT, VAR_CAMPAIGN, VAR_NUMBER, Callee, Dialer, Target
from callfile_spooler.settings import CallbackSettings, SpoolSettings, split_callerid
from primitives.phones import PhoneNormaliser

VAR_MESSAGE = "CAMPAIGN_MESSAGE"
VAR_CALLBACK_ID = "CALLBACK_ID"
VAR_CALLBACK_MODE = "CALLBACK_MODE"
VAR_CALLBACK_QUEUE = "CALLBACK_QUEUE"
VAR_CALLBACK_NAME = "CALLBACK_NAME"
VAR_CALLBACK_CHANNEL = "CALLBACK_CHANNEL"
VAR_CALLBACK_RING = "CALLBACK_RING"
VAR_CALLBACK_CALLERID_NUM = "CALLBACK_CALLERID_NUM"
VAR_CALLBACK_CALLERID_NAME = "CALLBACK_CALLERID_NAME"

NUMBER_VARIABLES = ("dtmf", "CALLEE")
"""Per-number variables the IVR context reads: `dtmf` the digit the message asks for,
`CALLEE` the number as the original service wrote it."""

CALL_FILE_VARIABLES = frozenset(
    {
        VAR_CAMPAIGN,
        VAR_ATTEMPT,
        VAR_NUMBER,
        "CAMPAIGN_EXTENSION",
        VAR_MESSAGE,
        VAR_CALLBACK_ID,
        VAR_CALLBACK_MODE,
        VAR_CALLBACK_QUEUE,
        VAR_CALLBACK_NAME,
        VAR_CALLBACK_CHANNEL,
        VAR_CALLBACK_RING,
        VAR_CALLBACK_CALLERID_NUM,
        VAR_CALLBACK_CALLERID_NAME,
        *NUMBER_VARIABLES,
    }
)
"""Every variable a pbxbridge call file may set (the dialplan test checks it reads no other)."""

_NOT_IN_NAME = re.compile(r"[^\w .,\'()-]+")
NAME_LENGTH = 40


def clean_name(name: str | None) -> str:
    """A name as a call file can carry it: letters (any script), digits, blanks and a
    little punctuation, at most NAME_LENGTH characters; "" when nothing is left."""
    if not name:
        return ""
    kept = " ".join(_NOT_IN_NAME.sub(" ", name).split())
    return kept[:NAME_LENGTH].strip()


class CallDialer(Dialer):
    def __init__(
        self, settings: SpoolSettings, phones: PhoneNormaliser, callback: CallbackSettings
    ) -> None:
        super().__init__(settings, phones)
        self.callback = callback

    def call_file(self, target: Target, callee: Callee) -> CallFile:
        variables = dict(callee.variables)
        mode = variables.get(VAR_CALLBACK_MODE)
        if mode == "operator_first":
            return self._operator_first(target, callee)
        call = super().call_file(target, callee)
        if mode == "customer_first":
            return replace(call, wait_time=self.callback.ring_time)
        message = str(prompt_base(self.settings.sounds_dir, target.campaign_id))
        return replace(call, variables=(*call.variables, (VAR_MESSAGE, message)))

    def _operator_first(self, target: Target, callee: Callee) -> CallFile:
        """Ring the queue; when an operator answers, the connect context rings the customer."""
        dial = self.dial_string(callee.number)
        name = dict(callee.variables).get(VAR_CALLBACK_NAME, "")
        shown = escape.format_callerid(f"Callback {name}".strip(), dial)
        queue = dict(callee.variables).get(VAR_CALLBACK_QUEUE, self.callback.queue)
        variables = [
            (VAR_CAMPAIGN, str(target.campaign_id)),
            (VAR_ATTEMPT, str(callee.attempt_id)),
            (VAR_NUMBER, callee.number),
            *callee.variables,
            (VAR_CALLBACK_CHANNEL, self.channel(callee.number)),
            (VAR_CALLBACK_RING, str(self.callback.ring_time)),
        ]
        presented = self.callback.callerid or self.settings.callerid
        if presented:
            presented_name, presented_number = split_callerid(presented)
            if presented_number:
                variables.append((VAR_CALLBACK_CALLERID_NUM, presented_number))
            if presented_name:
                variables.append((VAR_CALLBACK_CALLERID_NAME, presented_name))
        return CallFile(
            channel=escape.channel(self.callback.operator_channel.format(queue=queue)),
            callerid=shown,
            max_retries=0,
            wait_time=self.callback.operator_wait_time,
            context=target.context,
            extension=target.extension,
            priority=1,
            variables=tuple(variables),
            archive=True,
        )
