"""askozianum: who is calling, in one word (Ubilling's 0-3 status). Fails open."""

from __future__ import annotations

from agi.request import AgiRequest
from agi.routes.common import (
    LOOKUP_FAILED,
    leaves_on_error,
    lookup,
    set_variables,
    status_variables,
)
from agi.routes.deps import RouteDeps
from agi.session import AgiSession


@leaves_on_error(LOOKUP_FAILED)
async def askozianum(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    """SUBSCRIBER_STATUS, SUBSCRIBER_LOGIN, BILLING_RESULT, BILLING_SOURCE."""
    result = await lookup(deps, request, "askozianum", details=False)
    await set_variables(session, status_variables(result))
