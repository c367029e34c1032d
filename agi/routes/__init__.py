"""The IVR routes, one module each, registered by name (`agi://host/<name>`)."""

from __future__ import annotations

from functools import partial

from agi.routes.askozianum import askozianum
from agi.routes.common import Route
from agi.routes.deps import RouteDeps
from agi.routes.pause import pause, unpause
from agi.routes.paycardpay import paycardpay
from agi.routes.ping import ping
from agi.routes.realname import realname
from agi.routes.setcredit import setcredit
from agi.routes.sms_in import sms_in
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
    "sms_in": sms_in,
    "pause": pause,
    "unpause": unpause,
    "swstatus": swstatus,
}


def build_handlers(deps: RouteDeps) -> dict[str, Handler]:
    return {name: partial(route, deps) for name, route in ROUTES.items()}


__all__ = ["ROUTES", "Route", "RouteDeps", "build_handlers"]
