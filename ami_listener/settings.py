"""`[ami]`: the connection to Asterisk's Manager Interface (AMI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class AmiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description=(
            "Connect to AMI at all. Off: no SMS, missed-call or Originate features; the "
            "client stays `stopped`."
        ),
    )
    host: str = Field(
        default="127.0.0.1", min_length=1, description="Asterisk's AMI address (manager.conf)."
    )
    port: int = Field(default=5038, ge=1, le=65535, description="AMI TCP port (5038 by default).")
    username: str = Field(
        default="pbxbridge",
        min_length=1,
        pattern=r"^[^\r\n\x00]+$",
        description="The manager.conf user (dialplan/manager_pbxbridge.conf defines one).",
    )
    secret: SecretStr = Field(
        default=SecretStr(""),
        description="That user's secret. Never logged; with auth = md5 it never crosses the wire.",
    )
    auth: Literal["md5", "plain"] = Field(
        default="md5",
        description=(
            "md5: Challenge/MD5 login, only md5(challenge + secret) is sent. plain: the "
            "secret is sent as is (only for Asterisk builds without MD5 support)."
        ),
    )
    events: str = Field(
        default="on",
        pattern=r"^[A-Za-z0-9,]+$",
        description=(
            "The Login's `Events:` header: on, off, or a class list such as "
            "`call,user,cdr,system` (what manager.conf's read= also allows)."
        ),
    )
    connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to open the TCP connection and read the banner."
    )
    action_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Default seconds an action (login included) waits for its response.",
    )
    ping_interval: float = Field(
        default=20.0, gt=0, description="Seconds between two Pings while logged in."
    )
    ping_timeout: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Seconds a Ping waits for its Pong; none in time means a dead (half-open) "
            "connection: it is closed and a new one opened."
        ),
    )
    backoff_initial: float = Field(
        default=1.0, gt=0, description="Seconds before the first reconnect attempt."
    )
    backoff_max: float = Field(
        default=60.0,
        gt=0,
        description="Upper bound of the reconnect delay, which doubles after each failure.",
    )
    stable_after: float = Field(
        default=30.0,
        ge=0,
        description=(
            "Seconds a link must stay up before the reconnect delay starts again from "
            "backoff_initial (a peer that accepts the login and drops at once backs off too)."
        ),
    )
    backoff_jitter: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="Random spread of each delay, as a fraction (0.2: ±20 %).",
    )
    auth_failed_backoff: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Seconds before logging in again after Asterisk refused the user or secret "
            "(a wrong secret never becomes a tight retry loop)."
        ),
    )

    @model_validator(mode="after")
    def _backoff_bounds(self) -> AmiSettings:
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must be at least backoff_initial")
        return self
