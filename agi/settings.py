"""`[agi]`: the FastAGI server and the IVR routes served on it."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agi.escape import DEFAULT_MAX_COMMAND_BYTES, SOUND_NAME

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SOUND_PATTERN = f"^{SOUND_NAME.pattern}$"


class AgiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The server
    host: str = Field(
        default="127.0.0.1",
        description="Address the FastAGI server listens on (Asterisk's agi://HOST:PORT/…).",
    )
    port: int = Field(
        default=4573, ge=0, le=65535, description="TCP port; 4573 is Asterisk's default."
    )
    allow: list[str] = Field(
        default=["127.0.0.1/32", "::1/128"],
        description=(
            "Source networks (CIDR or single addresses) allowed to connect; anything else "
            "is closed at once, unread. FastAGI has no authentication: list only the PBXs."
        ),
    )
    header_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to receive the whole agi_* environment block."
    )
    command_timeout: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds to wait for the reply to one command; a route may pass a longer "
            "timeout for a command that plays prompts or waits for digits."
        ),
    )
    session_timeout: float = Field(
        default=300.0, gt=0, description="Upper bound for one whole session, header included."
    )
    max_header_bytes: int = Field(
        default=16384,
        ge=1024,
        le=65536,
        description=(
            "Largest environment block accepted (bytes; Asterisk sends 1-2 KiB). A connection "
            "still sending its header holds at most this much: agi.max_pending of them, "
            "64 MiB at the defaults."
        ),
    )
    max_command_bytes: int = Field(
        default=DEFAULT_MAX_COMMAND_BYTES,
        ge=64,
        le=8191,
        description=(
            "Longest command line sent (bytes, newline included). Asterisk before "
            "20.16/21.11/22.6 reads 2047 bytes of a line and runs the rest as a new command; "
            "raise to 8191 only when every PBX is newer."
        ),
    )
    max_sessions: int = Field(
        default=500,
        ge=1,
        description=(
            "Concurrent sessions: connections whose environment block is complete. More are "
            "closed at once (Asterisk continues the dialplan)."
        ),
    )
    max_pending: int = Field(
        default=4096,
        ge=1,
        description=(
            "Connections still sending their environment block (within header_timeout). "
            "When full, the oldest of them is closed to make room, never the newcomer: a "
            "flood of silent connections cannot keep a real call out. Each takes an open "
            "file: the service raises its open-files limit at start."
        ),
    )
    drain_timeout: float = Field(
        default=10.0,
        ge=0,
        description="On shutdown, seconds running sessions get to finish before they are closed.",
    )

    # The routes
    trust_args: bool = Field(
        default=False,
        description=(
            "Let money moves (setcredit, paycardpay) act on the subscriber named by ?number= "
            "in the script's query instead of the channel's CallerID. Only for dialplans "
            "where that value is trusted; lookups always honour ?number= and agi_arg_1."
        ),
    )
    lookup_timeout: float = Field(
        default=1.5,
        gt=0,
        description=(
            "Seconds a billing lookup may take before the call goes on with BILLING_RESULT=ERROR."
        ),
    )
    require_pin: bool = Field(
        default=False,
        description="Ask for the subscriber's PIN before self-service (credit, pay-card).",
    )
    language: str = Field(
        default="en",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Prompt language when the channel does not say (Asterisk's CHANNEL(language)).",
    )
    pin_prompt: str = Field(
        default="pbxbridge/enter-pin",
        pattern=_SOUND_PATTERN,
        description="Sound asking for the PIN (shipped in dialplan/sounds/).",
    )
    paycard_prompt: str = Field(
        default="pbxbridge/enter-card",
        pattern=_SOUND_PATTERN,
        description="Sound asking for the pay-card number (shipped in dialplan/sounds/).",
    )
    balance_prompt: str = Field(
        default="pbxbridge/your-balance",
        pattern=f"^({SOUND_NAME.pattern})?$",
        description="Sound played before userstatus?say=1 says the balance; empty for none.",
    )
    paycard_digits: int = Field(default=16, ge=1, le=64, description="Digits of a pay-card number.")
    pin_digits: int = Field(default=4, ge=1, le=16, description="Digits of a PIN.")
    input_timeout_ms: int = Field(
        default=6000,
        ge=0,
        description="Milliseconds GET DATA waits for each digit after the prompt.",
    )
    lockout_failures: int = Field(
        default=5,
        ge=1,
        description="Wrong pay-cards or PINs within lockout_window that lock number and login.",
    )
    lockout_window: float = Field(
        default=3600.0, gt=0, description="Seconds failures are counted over, and a lock lasts."
    )

    @field_validator("allow")
    @classmethod
    def _networks_parse(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP network or address: {entry!r}") from None
        return value

    def networks(self) -> tuple[IpNetwork, ...]:
        """`allow` parsed (host bits are ignored: 10.1.2.3/8 means 10.0.0.0/8)."""
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.allow)


def address_allowed(address: str, networks: tuple[IpNetwork, ...]) -> bool:
    """Whether a peer address is inside one of `networks` (IPv4-mapped IPv6 counts as IPv4)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)
