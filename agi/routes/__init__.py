"""The IVR routes, one module each, registered by name (`agi://host/<name>`).

Other rooms may bring routes of their own (sms: `sms_in`); the root adds them through
`build_handlers(deps, extra)`, so agi imports no room that uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from agi.routes.askozianum import askozianum
from agi.routes.common import Route
from agi.routes.deps import RouteDeps
from agi.routes.pause import pause, unpause
from agi.routes.paycardpay import paycardpay
from agi.routes.ping import ping
from agi.routes.realname import realname
from agi.routes.setcredit import setcredit
from agi.routes.swstatus import swstatus
from agi.routes.userstatus import userstatus
from agi.server import Handler

ROUTES: dict[str, Route] = {
    "askozianum": askozianum,
    "userstatus": userstatus,
    "setcredit": setcredit,
    "paycardpay": paycardpay,
    "realname": realname,
    "ping": ping,
    "pause": pause,
    "unpause": unpause,
    "swstatus": swstatus,
}


def build_handlers(
    deps: RouteDeps, extra: Mapping[str, Handler] | None = None
) -> dict[str, Handler]:
    """agi's routes bound to `deps`, and `extra`: routes other rooms bring (the root passes
    them, e.g. sms's `sms_in`). A name taken twice is a wiring mistake: ValueError."""
    handlers: dict[str, Handler] = {name: partial(route, deps) for name, route in ROUTES.items()}
    for name, handler in (extra or {}).items():
        if name in handlers:
            raise ValueError(f"AGI route {name!r} registered twice")
        handlers[name] = handler
    return handlers


__all__ = ["ROUTES", "Route", "RouteDeps", "build_handlers"]
