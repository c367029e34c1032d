"""swstatus: is the switch serving the caller up? Fails open (UNKNOWN).

Ubilling's equipment check, asked before a caller waits for support, so that a known
outage is said first ("your switch is down, we know"). The embedded billing keeps no
switches: always UNKNOWN (NOT_SUPPORTED).
"""

from __future__ import annotations

import logging

from agi.request import AgiRequest
from agi.routes.common import leaves_on_error, lookup_number, set_variables
from agi.routes.deps import RouteDeps
from agi.session import AgiSession
from billing_client.pause import EquipmentReason, EquipmentStatus

log = logging.getLogger("pbxbridge.agi")


@leaves_on_error({"EQUIPMENT_STATUS": "UNKNOWN", "EQUIPMENT_REASON": "ERROR"})
async def swstatus(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    number = lookup_number(request)
    check = await deps.billing.equipment_status(number)
    log.info(
        "AGI %s swstatus: number %r -> %s%s",
        request.uniqueid or "-",
        number,
        check.status,
        f" ({check.reason}{': ' + check.error if check.error else ''})" if check.reason else "",
    )
    reason = ""
    if check.status == EquipmentStatus.UNKNOWN:
        reason = str(check.reason or EquipmentReason.ERROR)
    await set_variables(
        session, {"EQUIPMENT_STATUS": str(check.status), "EQUIPMENT_REASON": reason}
    )
