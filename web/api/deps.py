"""What the API's handlers are given: one dataclass on the API application, typed.

A resource module reads what it needs with `api_deps(request).<part>`; a new resource that
needs another part of the service adds a field here and the root fills it in
(pbxbridge/webserver.py). No globals: tests build their own ApiDeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from billing_client.client import BillingClient
from primitives.clock import Clock
from web.tokens import TokenStore


@dataclass(frozen=True)
class ApiDeps:
    clock: Clock
    tokens: TokenStore
    billing: BillingClient


API_DEPS = web.AppKey("api_deps", ApiDeps)


def api_deps(request: web.Request) -> ApiDeps:
    return request.config_dict[API_DEPS]
