"""The one aiohttp application: what is mounted where, and the hooks for what comes next.

    /api/v1/…               REST API, bearer tokens (web/api/)      sub-application
    /api/v1/openapi.json    its OpenAPI document                    public
    /healthz                every part's health (web/health.py)     public
    /metrics                Prometheus (web/metrics.py)             http.metrics_allow
    /callback               the callback form                       public; `callback` hook
    /static/                the pages' stylesheet (web/pages.py)    public
    /, /billing/, /status_cdr.php, /external_get_info.php
                            Ubilling/Askozia faces (askozia_api/)   their own key / Basic
    /admin/                 staff pages (next)                      their own login

A feature with its own auth and error style is a `Mount`: a function that adds its
routes (or `app.add_subapp("/admin/", admin)`) to the root application. A face that is
off is simply not mounted, so its paths answer 404. Everything on the root passes the
middlewares of web/middlewares.py; typed state lives under `web.AppKey`s, never in
globals: reach it with `request.config_dict[KEY]` from any sub-application.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from web.addresses import TRUSTED_PROXIES
from web.api import PREFIX, TABLES, build_api
from web.api.deps import ApiDeps
from web.api.routing import RouteTable
from web.feed import FEED, LiveFeed
from web.feed import on_shutdown as feed_shutdown
from web.health import HEALTH, HealthChecks, healthz_handler
from web.metrics import METRICS, METRICS_ALLOW, Metrics, metrics_handler
from web.middlewares import limit_body, observe, security_headers
from web.pages import setup_pages
from web.settings import HttpSettings, parse_networks

Mount = Callable[[web.Application], None]
"""Adds a feature's routes or sub-application to the root application."""

SETTINGS = web.AppKey("http_settings", HttpSettings)


@dataclass(frozen=True)
class WebParts:
    """Everything the application is built from; the root fills it (pbxbridge/webserver.py)."""

    settings: HttpSettings
    api: ApiDeps
    health: HealthChecks
    metrics: Metrics
    callback: Mount | None = None
    """Registers `/callback` (public: the form protects itself; see issue 11)."""
    faces: Sequence[Mount] = ()
    """askozia_api's faces, the admin pages: each mounts itself with its own auth."""
    api_tables: Sequence[RouteTable] = TABLES
    """The API's resources (web.api.TABLES; tests pass their own)."""
    feed: LiveFeed | None = None
    """The live feed (web/feed.py): `request.config_dict[FEED]` for the pages serving it;
    its sockets are closed when the server shuts down."""


def build_app(parts: WebParts) -> web.Application:
    settings = parts.settings
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[observe(parts.metrics), limit_body(settings.max_body_bytes)],
    )
    app[SETTINGS] = settings
    app[TRUSTED_PROXIES] = parse_networks(settings.trusted_proxies)
    app[METRICS] = parts.metrics
    app[METRICS_ALLOW] = parse_networks(settings.metrics_allow)
    app[HEALTH] = parts.health
    if parts.feed is not None:
        app[FEED] = parts.feed
        app.on_shutdown.append(feed_shutdown)
    app.on_response_prepare.append(security_headers(settings))
    setup_pages(app, settings.language)
    app.router.add_get("/healthz", healthz_handler)
    app.router.add_get("/metrics", metrics_handler)
    if parts.callback is not None:
        parts.callback(app)
    for mount in parts.faces:
        mount(app)
    app.add_subapp(PREFIX, build_api(parts.api, parts.api_tables))
    return app
