"""ping: PBXBRIDGE_OK=1 when pbxbridge and its billing answer (a dialplan health check)."""

from __future__ import annotations

import logging

from agi.request import AgiRequest
from agi.routes.common import leaves_on_error
from agi.routes.deps import RouteDeps
from agi.session import AgiSession

log = logging.getLogger("pbxbridge.agi")


@leaves_on_error({"PBXBRIDGE_OK": "0"})
async def ping(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    healthy = await deps.billing.healthy(deadline=deps.settings.lookup_timeout)
    if not healthy:
        log.warning(
            "AGI %s ping: billing %s unhealthy", request.uniqueid, deps.billing.backend_name
        )
    await session.set_variable("PBXBRIDGE_OK", "1" if healthy else "0")
