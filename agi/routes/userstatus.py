"""userstatus: status plus money and tariff; with ?say=1 it says the balance. Fails open."""

from __future__ import annotations

from agi.request import AgiRequest
from agi.routes.common import (
    LOOKUP_FAILED,
    detail_variables,
    flag,
    leaves_on_error,
    lookup,
    say_amount,
    set_variables,
    status_variables,
    use_language,
)
from agi.routes.deps import RouteDeps
from agi.session import AgiSession


@leaves_on_error(LOOKUP_FAILED)
async def userstatus(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    result = await lookup(deps, request, "userstatus", details=True)
    await set_variables(session, status_variables(result) | detail_variables(result.subscriber))
    if flag(request, "say") and result.subscriber is not None:
        await use_language(deps, request, session)
        await say_amount(deps, session, result.subscriber.balance)
