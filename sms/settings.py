"""`[sms]`: inbox, outbox, transports (chan_dongle, chan_quectel, PJSIP) and auto-replies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sms.types import Driver

Transport = Driver

PJSIP_MAX_BODY = 1300
"""Asterisk's MessageSend decodes Base64Body into a 1300-byte buffer and cuts the rest."""


REPLY_FIELDS = ("login", "name", "balance", "credit", "fee", "tariff", "days_left")


class AutoReplySettings(BaseModel):
    """`[sms.auto_reply]`: answers to commands texted in by subscribers."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description="Answer commands texted in by known subscribers (unknown senders: nothing).",
    )
    balance_commands: list[str] = Field(
        default=["BALANCE", "БАЛАНС"],
        description=(
            "Texts asking for the balance, compared whole, in any case, surrounding spaces "
            "and punctuation ignored."
        ),
    )
    balance_reply: str = Field(
        default="Баланс: {balance} грн. Залишилось днів: {days_left}.",
        description=(
            "Reply to a balance command. Fields: {login} {name} {balance} {credit} {fee} "
            "{tariff} {days_left}."
        ),
    )
    balance_reply_no_days: str = Field(
        default="Баланс: {balance} грн.",
        description="Reply when the billing cannot say how many days are left.",
    )
    max_age: float = Field(
        default=900.0,
        ge=0,
        description=(
            "Seconds: a command older than this gets no reply (the subscriber has moved "
            "on), after a restart or while the billing fails; a failed sender lookup is "
            "retried until then."
        ),
    )

    @field_validator("balance_commands")
    @classmethod
    def _commands_not_blank(cls, value: list[str]) -> list[str]:
        cleaned = [c.strip() for c in value]
        if any(not c for c in cleaned):
            raise ValueError("a command cannot be blank")
        return cleaned

    @field_validator("balance_reply", "balance_reply_no_days")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            value.format(**dict.fromkeys(REPLY_FIELDS, "x"))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"unknown field or bad braces ({exc}); fields: {', '.join(REPLY_FIELDS)}"
            ) from None
        return value


class SmsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Sending
    transport: Transport = Field(
        default="dongle",
        description=(
            "How messages are sent: dongle (chan_dongle DongleSendSMS), quectel "
            "(chan_quectel QuectelSendSMS) or pjsip (MessageSend). A message whose device "
            "starts with 'pjsip' (a reply to a SIP MESSAGE) always goes out by MessageSend; "
            "an auto-reply goes out by the driver its SMS came in on, when that is known."
        ),
    )
    device: str = Field(
        default="dongle0",
        min_length=1,
        max_length=64,
        description="chan_dongle/chan_quectel device used when a message names none.",
    )
    c_escapes: bool = Field(
        default=True,
        description=(
            "Send newlines and backslashes C-escaped (\\n, \\\\) in DongleSendSMS's Message, "
            "which wdoekes chan_dongle and chan_quectel unescape. Set false for bg111 "
            "chan_dongle 1.1, which cannot send a newline: they become spaces."
        ),
    )
    report: bool = Field(
        default=True, description="Ask the network for a delivery report (Report: yes)."
    )
    validity: int = Field(
        default=0,
        ge=0,
        le=635040,
        description="Validity in minutes for DongleSendSMS; 0 leaves the modem default (3 days).",
    )
    pjsip_endpoint: str = Field(
        default="pjsip:{number}",
        description=(
            "MessageSend destination. Fields: {number} (the recipient) and {device} (what "
            "follows 'pjsip:' in the message's device). Examples: 'pjsip:{number}', "
            "'pjsip:trunk/sip:{number}@sms.example.net'."
        ),
    )
    pjsip_from: str = Field(
        default="",
        description="MessageSend From (e.g. 'sip:pbxbridge@pbx.example.net'); empty: omitted.",
    )
    pjsip_address_header: Literal["Destination", "To"] = Field(
        default="Destination",
        description=(
            "Header carrying the destination: Destination (Asterisk 16.x+ with the "
            "Destination header) or To (older Asterisk)."
        ),
    )
    split_single_pdu: bool = Field(
        default=False,
        description=(
            "Split long texts into separate messages for modems that send one PDU only "
            "(bg111 chan_dongle 1.1): 160 GSM-7 or 70 UCS-2 characters for one message, "
            "153 or 67 per part."
        ),
    )
    transliterate: bool = Field(
        default=False,
        description=(
            "Transliterate Ukrainian/Russian text to Latin before sending (160 characters per "
            "SMS instead of 70); a message can override it."
        ),
    )

    # Retries
    max_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description=(
            "Transmissions tried per message. Only failures known to have sent nothing "
            "(link down before the action was written, a refusal from the modem) are retried."
        ),
    )
    retry_backoff: float = Field(
        default=30.0, gt=0, description="Seconds before the first retry; doubles each time."
    )
    retry_backoff_max: float = Field(
        default=900.0, gt=0, description="Upper bound of the wait between retries (seconds)."
    )
    action_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds to wait for Asterisk's response to a send action. A send that times "
            "out becomes 'unknown' and is never resent automatically."
        ),
    )
    poll_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between outbox checks when idle (queueing wakes it at once).",
    )

    # Receiving
    dedupe_window: float = Field(
        default=120.0,
        ge=0,
        description=(
            "Seconds in which the same text from the same sender on the same device is "
            "stored once (chan_dongle raises several events per SMS; modems redeliver)."
        ),
    )
    multipart_window: float = Field(
        default=120.0,
        gt=0,
        description=(
            "Seconds to wait for the missing parts of a multipart SMS the modem delivered "
            "part by part; after that what arrived is stored, gaps marked '[…]'."
        ),
    )
    auto_reply: AutoReplySettings = AutoReplySettings()

    @field_validator("pjsip_endpoint")
    @classmethod
    def _endpoint_template(cls, value: str) -> str:
        try:
            value.format(number="0", device="d")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"pjsip_endpoint: only {{number}} and {{device}} may be used ({exc})"
            ) from None
        if "{number}" not in value:
            raise ValueError("pjsip_endpoint must contain {number}")
        return value
