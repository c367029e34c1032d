"""realname: the subscriber's name for staff screens; ?set_callerid=1 sets CALLERID(name)."""

from __future__ import annotations

from agi.request import AgiRequest
from agi.routes.common import (
    LOOKUP_FAILED,
    flag,
    leaves_on_error,
    lookup,
    set_variables,
    status_variables,
)
from agi.routes.deps import RouteDeps
from agi.session import AgiSession


@leaves_on_error(LOOKUP_FAILED)
async def realname(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    result = await lookup(deps, request, "realname", details=True)
    info = result.subscriber
    name = info.name if info else ""
    named = {} if info is not None and not info.known("name") else {"SUBSCRIBER_NAME": name}
    await set_variables(session, status_variables(result) | named)
    if name and flag(request, "set_callerid"):
        await session.set_variable("CALLERID(name)", name)
