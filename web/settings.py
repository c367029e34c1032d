"""`[http]`: the one aiohttp server (REST API, callback form, faces, health, metrics)."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from web.i18n import Language

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MIB = 1024 * 1024
REMOTEAPI_KEY_FORBIDDEN = frozenset("~@+?%/;=*><\"'-&#")


def _check_networks(value: list[str]) -> list[str]:
    for entry in value:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"not an IP network or address: {entry!r}") from None
    return value


def parse_networks(entries: list[str]) -> tuple[IpNetwork, ...]:
    """CIDR strings (or single addresses) parsed; host bits ignored (10.1.2.3/8 = 10/8)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description=(
            "Run the HTTP server (REST API, callback form, Ubilling/Askozia faces, /healthz, "
            "/metrics) inside `pbxbridge run`."
        ),
    )
    host: str = Field(
        default="127.0.0.1",
        description=(
            "Address to listen on. Loopback by default: put the ISP's web server (nginx) in "
            "front for anything public, and list it in trusted_proxies."
        ),
    )
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port.")
    trusted_proxies: list[str] = Field(
        default=[],
        description=(
            "Networks of reverse proxies whose X-Forwarded-For is believed. The client is the "
            "rightmost address in it that is not one of these; a request from any other peer "
            "is taken as coming from the peer itself (a forged header is ignored)."
        ),
    )
    metrics_allow: list[str] = Field(
        default=["127.0.0.1/32", "::1/128"],
        description="Networks allowed to read /metrics (others get 403).",
    )
    callback_frame_ancestors: list[str] = Field(
        default=[],
        description=(
            "Sites allowed to show the /callback form in a frame (CSP frame-ancestors, e.g. "
            "'https://isp.example'); empty: only pages of pbxbridge itself. Every other page "
            "may be framed by no one."
        ),
    )
    callback_ip_per_hour: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description=(
            "Callback form: requests one client address may send within an hour (an IPv6 "
            "client counts by its /64); more get 429. Counted in the database, so every "
            "instance shares the count."
        ),
    )
    callback_number_per_day: int = Field(
        default=3,
        ge=1,
        le=1000,
        description=(
            "Callback form: requests for one phone number within a day, whoever sends them "
            "(so nobody can make the ISP call a stranger all day); more get 429. "
            "callback.max_per_hour and the do-not-call list apply as well."
        ),
    )
    admin_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=7 * 24 * 60,
        description=(
            "Admin pages (/admin/): minutes without a request after which a staff session "
            "ends and the login form is shown again."
        ),
    )
    admin_login_ip_per_hour: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description=(
            "Admin pages: login attempts one client address may make within an hour (an IPv6 "
            "client counts by its /64); more get 429. Counted in the database."
        ),
    )
    admin_login_user_per_hour: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description=(
            "Admin pages: login attempts for one account within an hour, from anywhere; more "
            "get 429 (a guesser is stopped, at the price of the account waiting too)."
        ),
    )
    language: Language = Field(
        default="uk",
        description=(
            "Language of the web pages (the callback form, the admin pages) for a browser that "
            'asks for none of pbxbridge\'s: "uk" or "en". A page offers a link to the other one.'
        ),
    )
    max_body_bytes: int = Field(
        default=MIB,
        ge=1024,
        description="Largest request body accepted (bytes); larger ones get 413.",
    )
    max_upload_bytes: int = Field(
        default=20 * MIB,
        ge=1024,
        description="Largest file upload (a campaign's audio prompt), bytes.",
    )
    remoteapi_key: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Key of the Ubilling-compatible remoteapi face (GET /?module=remoteapi&key=…, at "
            "/ and /billing/): at least 16 characters, none that Ubilling strips "
            "(~@+?%/;=*><\"'-); e.g. your Ubilling's serial. Empty: the face is off (404)."
        ),
    )
    remoteapi_money: bool = Field(
        default=False,
        description=(
            "Let the remoteapi face move money (setcredit, paycardpay name the subscriber by "
            "login=, so anyone with the key could): off unless you need it."
        ),
    )

    @field_validator("remoteapi_key")
    @classmethod
    def _remoteapi_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        # Ubilling's vf() strips these from the key a client sends before comparing, so a
        # key holding one could never be matched; & and # would end it in a URL.
        if key and (
            len(key) < 16
            or any(c in REMOTEAPI_KEY_FORBIDDEN or not c.isprintable() or c.isspace() for c in key)
        ):
            raise ValueError(
                "remoteapi_key: at least 16 characters, none of ~@+?%/;=*><\"'-&# or spaces "
                "(a Ubilling serial, UB + 32 hex, is such a key)"
            )
        return value

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _check_networks(value)

    @field_validator("callback_frame_ancestors")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        for entry in value:
            # A CSP source expression is one token: a space or ; would add a directive.
            if not entry or any(c.isspace() or c in ";,'\"" for c in entry):
                raise ValueError(
                    f"not a CSP source (one origin such as https://isp.example): {entry!r}"
                )
        return value
