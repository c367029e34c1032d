"""AMI events the spooler listens to, and what each says about an attempt.

The spooler is an AMI consumer (`primitives.ami`): its `ami_events` are `EVENTS`, its
handler `on_ami_event`, and it reads them through the ground floor's `AmiEvent`, so this
component does not import the listener.

* `UserEvent` sent by the dialplan (see the `dialplan/` contexts):
  - `CallFileFailed` from the `failed` extension of the campaign's context:
    `UserEvent(CallFileFailed,Reason: ${REASON},Campaign: ${CAMPAIGN_ID},`
    `Attempt: ${CAMPAIGN_ATTEMPT_ID},Number: ${CAMPAIGN_NUMBER})`;
  - `CampaignAnswered` once the callee answered (`Campaign`, `Attempt`, `Number`);
  - `CampaignDigit` with `Digit: <what the callee pressed>` (an IVR answer; any of the
    three may carry `Digit`).
  An event without `Attempt` is matched by `Campaign` + `Number` to the attempt in
  Asterisk's hands (the captured dialplan sent only those two).
* `Hangup`: the call is over. Matched by the channel variable `CAMPAIGN_ATTEMPT_ID` (with
  `channelvars = CAMPAIGN_ID,CAMPAIGN_ATTEMPT_ID` in manager.conf every event carries it)
  or by the Uniqueid an earlier UserEvent of the attempt came from. `Cause` is kept.
* `OriginateResponse` (an AMI Originate with ActionID `pbxbridge-<attempt id>`, for
  callbacks placed that way): `Response: Success` is an answer, `Failure` ends the attempt
  with its `Reason`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callfile_spooler.dialing import VAR_ATTEMPT, VAR_CAMPAIGN
from callfile_spooler.outcomes import REASON_ANSWERED, AttemptStatus, status_for_reason
from primitives.ami import AmiEvent
from primitives.phones import PhoneNormaliser

EVENTS: tuple[str, ...] = ("UserEvent", "Hangup", "OriginateResponse")
USER_EVENT_FAILED = "CallFileFailed"
USER_EVENT_ANSWERED = "CampaignAnswered"
USER_EVENT_DIGIT = "CampaignDigit"
USER_EVENTS = frozenset({USER_EVENT_FAILED, USER_EVENT_ANSWERED, USER_EVENT_DIGIT})
USER_EVENT_HEADERS = frozenset({"Campaign", "Attempt", "Number", "Reason", "Digit", "Leg"})
"""What the dialplan's UserEvents may carry; the spooler reads each of these."""
ORIGINATE_ACTION_ID = re.compile(r"pbxbridge-(\d+)")
_DIGITS = re.compile(r"[0-9*#A-Da-d]{1,32}")


@dataclass(frozen=True, slots=True)
class Signal:
    """One event's news about one attempt; the spooler finds the attempt and applies it.

    The attempt is `attempt_id` when known, else the one of `campaign_id` calling
    `number`, else the one whose call has `uniqueid`.
    """

    attempt_id: int | None = None
    campaign_id: int | None = None
    number: str | None = None  # E.164
    uniqueid: str | None = None
    status: AttemptStatus | None = None
    reason: int | None = None
    cause: int | None = None
    digit: str | None = None
    ended: bool = False
    learn_uniqueid: bool = False
    """The event came from the attempt's own channel: remember its Uniqueid for Hangup."""
    detail: str | None = None
    retry: bool = True
    """False: a failure that must not be retried (the call may have been made)."""


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _id_fields(event: AmiEvent) -> tuple[int | None, int | None]:
    variables = event.chan_variables()
    attempt = _int(event.get("Attempt")) or _int(variables.get(VAR_ATTEMPT))
    campaign = _int(event.get("Campaign")) or _int(variables.get(VAR_CAMPAIGN))
    return attempt, campaign


def interpret(event: AmiEvent, phones: PhoneNormaliser) -> Signal | None:
    """What `event` says about a campaign attempt, or None when it is not about one."""
    name = event.name
    if name == "UserEvent":
        return _user_event(event, phones)
    if name == "Hangup":
        return _hangup(event)
    if name == "OriginateResponse":
        return _originate_response(event)
    return None


def _hangup(event: AmiEvent) -> Signal | None:
    attempt, _ = _id_fields(event)
    uniqueid = event.get("Uniqueid")
    if attempt is None and not uniqueid:
        return None
    return Signal(attempt_id=attempt, uniqueid=uniqueid, cause=_int(event.get("Cause")), ended=True)


def _originate_response(event: AmiEvent) -> Signal | None:
    match = ORIGINATE_ACTION_ID.fullmatch(event.get("ActionID") or "")
    attempt = int(match.group(1)) if match else _id_fields(event)[0]
    if attempt is None:
        return None
    reason = _int(event.get("Reason"))
    if (event.get("Response") or "").lower() == "success":
        return Signal(
            attempt_id=attempt,
            status=AttemptStatus.ANSWERED,
            reason=REASON_ANSWERED,
            uniqueid=event.get("Uniqueid"),
            learn_uniqueid=True,
        )
    return Signal(
        attempt_id=attempt,
        status=status_for_reason(reason if reason is not None else 0),
        reason=reason,
        ended=True,
    )


OPERATOR_LEG_DETAIL = "no operator took the callback; the customer was not rung"


def _user_event(event: AmiEvent, phones: PhoneNormaliser) -> Signal | None:
    kind = event.get("UserEvent")
    if kind not in USER_EVENTS:
        return None
    attempt, campaign = _id_fields(event)
    number = phones.normalise(event.get("Number"))
    if attempt is None and (campaign is None or number is None):
        return None
    digit = event.get("Digit")
    if digit is not None:
        digit = digit.strip()
        if _DIGITS.fullmatch(digit) is None:
            digit = None
    uniqueid = event.get("Uniqueid")
    if kind == USER_EVENT_FAILED:
        reason = _int(event.get("Reason"))
        return Signal(
            attempt_id=attempt,
            campaign_id=campaign,
            number=number,
            status=status_for_reason(reason if reason is not None else 0),
            reason=reason,
            digit=digit,
            ended=True,
            # An operator-first callback's call file rings the queue: when it fails, no
            # operator took it, and the customer's phone never rang.
            detail=OPERATOR_LEG_DETAIL if event.get("Leg") == "operator" else None,
        )
    if kind == USER_EVENT_ANSWERED:
        return Signal(
            attempt_id=attempt,
            campaign_id=campaign,
            number=number,
            uniqueid=uniqueid,
            status=AttemptStatus.ANSWERED,
            reason=REASON_ANSWERED,
            digit=digit,
            learn_uniqueid=True,
        )
    if digit is None:
        return None
    return Signal(
        attempt_id=attempt,
        campaign_id=campaign,
        number=number,
        uniqueid=uniqueid,
        digit=digit,
        learn_uniqueid=True,
    )
