"""HTML pages: one Jinja2 environment (aiohttp-jinja2) and the static files, for the
callback form and the admin pages alike.

    web/templates/base.html     the page around every form: <html lang>, the stylesheet,
                                the language switch; pages extend it
    web/templates/…             one template per page (callback.html)
    web/static/                 served at /static/ (CSS only: no scripts)

`setup_pages(app, language)` runs once on the root application (web/app.py), so every
sub-application renders with `render(request, "page.html", {...})`, which adds what every
template uses:

    lang        the page's language (web/i18n.py `choose`)
    _           `_("English text", name=value)`: the text in that language
    languages   [(code, name in its own words)] for the switch links
    static      `static("pbxbridge.css")`: the file's URL, relative to the page, so the
                pages keep working behind a proxy that mounts pbxbridge under a prefix

Autoescape is on for every template and undefined names are errors. The Content Security
Policy is `default-src 'self'`: no inline <script>, <style> or style="…" in a template;
styles go in web/static/pbxbridge.css.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import hdrs, web

from web.i18n import LANGUAGES, NAMES, Language, choose, translator

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
STATIC_PREFIX = "/static/"

DEFAULT_LANGUAGE = web.AppKey[Language]("page_language")
"""http.language on the root application: the pages' language when the browser's is not ours."""


def environment(app: web.Application) -> jinja2.Environment:
    """The Jinja2 environment, registered under aiohttp_jinja2's key on `app`."""
    return aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(("html",), default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        default_helpers=False,
    )


def setup_pages(app: web.Application, language: Language) -> None:
    """The templates and /static/ on the root application (once)."""
    environment(app)
    app[DEFAULT_LANGUAGE] = language
    app.router.add_static(STATIC_PREFIX, STATIC, name="static")


def page_language(request: web.Request, *, chosen: str | None = None) -> Language:
    """The language a page for `request` is in (`chosen`: a form's own `lang` field)."""
    return choose(request, request.config_dict[DEFAULT_LANGUAGE], chosen=chosen)


def relative_root(path: str) -> str:
    """From the page at `path`, the way back to the application's root: `""` for
    /callback, `"../"` for /admin/calls. Behind a proxy under /pbx/ the page is at
    /pbx/callback and `static/…` still resolves to /pbx/static/…."""
    return "../" * path.count("/", 1)


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    language: Language,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """`template` rendered with `context` and what every page uses (see the module's notes)."""
    root = relative_root(request.path)

    def static(name: str) -> str:
        return f"{root}{STATIC_PREFIX.lstrip('/')}{name}"

    full = {
        "lang": language,
        "_": translator(language),
        "languages": [(code, NAMES[code]) for code in LANGUAGES],
        "static": static,
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, full, status=status)
    response.headers[hdrs.CONTENT_LANGUAGE] = language
    # The same URL answers in another language for another Accept-Language.
    response.headers[hdrs.VARY] = hdrs.ACCEPT_LANGUAGE
    response.headers[hdrs.CACHE_CONTROL] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
