"""`[lines]`: voice lines sold through BILLmanager, written as PJSIP endpoints."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lines.codecs import check_codecs

NAME = r"^[A-Za-z0-9_-]{1,80}$"
"""A PJSIP section or dialplan context name pbxbridge writes into the include file."""


class LinesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pjsip_file: Path = Field(
        default=Path("/etc/asterisk/pjsip_pbxbridge.conf"),
        description=(
            "The PJSIP include file pbxbridge owns and rewrites whole (pjsip.conf: "
            '#include "pjsip_pbxbridge.conf"). The user pbxbridge runs as writes it and its '
            "folder (the new file is renamed over the old one); Asterisk reads it."
        ),
    )
    context: str = Field(
        default="pbxbridge-line",
        pattern=NAME,
        description="Where a line's calls start (the ready dialplan's [pbxbridge-line]).",
    )
    suspended_context: str = Field(
        default="pbxbridge-line-suspended",
        pattern=NAME,
        description="A suspended line's context: a message, no calls out.",
    )
    username_prefix: str = Field(
        default="line",
        pattern=r"^[a-z0-9]{0,16}$",
        description=(
            "New lines are named <prefix><number> (line1, line2…): the SIP username, the "
            "endpoint's name and the id BILLmanager keeps."
        ),
    )
    transport: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_-]{1,80})?$",
        description="The PJSIP transport section the endpoints use; empty: Asterisk picks.",
    )
    endpoint_template: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_-]{1,80})?$",
        description=(
            "A template section defined in pjsip.conf before the #include (NAT options, "
            "direct_media…) every line's endpoint inherits; empty: none."
        ),
    )
    default_max_channels: int = Field(
        default=2, ge=1, le=100, description="Channel limit of a line opened without one."
    )
    default_codecs: list[str] = Field(
        default=["ulaw", "alaw"], description="Codecs of a line opened without `codecs`."
    )
    reload_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds the `module reload res_pjsip.so` over AMI may take.",
    )
    lock_timeout: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds a line change waits for another one (two BILLmanager tasks at once) "
            "before giving up."
        ),
    )

    @field_validator("default_codecs")
    @classmethod
    def _known_codecs(cls, value: list[str]) -> list[str]:
        return list(check_codecs(",".join(value)))

    def resolved(self, base_dir: Path) -> LinesSettings:
        """A copy whose relative `pjsip_file` is anchored at `base_dir` (the config file's
        folder)."""
        if self.pjsip_file.is_absolute():
            return self
        return self.model_copy(update={"pjsip_file": (base_dir / self.pjsip_file).resolve()})
