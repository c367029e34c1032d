"""`module reload res_pjsip.so` over AMI, and what its answer means for a line change.

The action is `ModuleLoad` (LoadType: reload, Module: res_pjsip.so), which answers
`Response: Success` (`Module reloaded.`) or `Response: Error` with the reason: a structured
answer, unlike the `Command` action's free text. It needs the AMI user's `system` write
permission (dialplan/manager_pbxbridge.conf).

Three outcomes:
- APPLIED: Asterisk read the new file;
- REJECTED: Asterisk answered with an error; the caller puts the previous file back;
- UNREACHABLE: no answer (AMI off, cannot connect, login refused, no response in time).
  The file stays written and the reload is left pending: reloading is idempotent, so the
  service sends it again when its AMI link is up (and any later change sends it too).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ami_listener.errors import AmiActionError, AmiAuthFailed, AmiError, AmiTimeout
from ami_listener.message import AmiMessage

log = logging.getLogger("pbxbridge.lines")

MODULE = "res_pjsip.so"

SendAction = Callable[..., Awaitable[AmiMessage]]
"""`send(name, headers, timeout=seconds)`: AmiClient.action (the service's link) or
AmiClient.action_once (a connection of its own, for the CLI)."""


class ReloadOutcome(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class ReloadResult:
    outcome: ReloadOutcome
    detail: str


Reloader = Callable[[], Awaitable[ReloadResult]]


class AmiReload:
    """A Reloader over AMI; `send` None means AMI is switched off ([ami] enabled = false)."""

    def __init__(self, send: SendAction | None, timeout: float) -> None:
        self._send = send
        self._timeout = timeout

    async def __call__(self) -> ReloadResult:
        if self._send is None:
            return ReloadResult(
                ReloadOutcome.UNREACHABLE,
                f"AMI is off ([ami] enabled = false): run `asterisk -rx 'module reload {MODULE}'`",
            )
        headers: Mapping[str, str] = {"LoadType": "reload", "Module": MODULE}
        try:
            response = await self._send("ModuleLoad", headers, timeout=self._timeout)
        except AmiActionError as exc:
            return ReloadResult(ReloadOutcome.REJECTED, _message(exc.response) or str(exc))
        except AmiAuthFailed as exc:
            return ReloadResult(ReloadOutcome.UNREACHABLE, f"AMI login refused: {exc}")
        except AmiTimeout:
            return ReloadResult(
                ReloadOutcome.UNREACHABLE,
                f"no answer to the reload within {self._timeout:g} s (it may have run; "
                "it will be sent again)",
            )
        except AmiError as exc:
            return ReloadResult(ReloadOutcome.UNREACHABLE, str(exc) or type(exc).__name__)
        return ReloadResult(ReloadOutcome.APPLIED, _message(response) or "Module reloaded.")


def _message(message: AmiMessage) -> str:
    return (message.get("Message") or "").strip()
