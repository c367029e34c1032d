"""The sections of the admin pages, in one list: the home page and the menu are made
from it. A helper adding a section adds one entry here (and its routes' table to
web/admin/app.py ROUTE_TABLES); a section is linked only to roles that may open it.
Titles and blurbs are English messages: each has its Ukrainian in web/i18n.py UK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from web.admin.roles import Permission, allowed
from web.staff import Role


@dataclass(frozen=True, slots=True)
class Section:
    path: str
    """The section's page, /admin/…"""
    title: str
    blurb: str
    """One line on the home page: what is there."""
    permission: Permission
    """Who may open it (roles.py): the home page links it only for them."""


SECTIONS: Final[tuple[Section, ...]] = (
    Section(
        "/admin/missed",
        "Missed calls",
        "Today's and past missed calls, recalled or not; call back in one click; per-day chart.",
        Permission.VIEW,
    ),
    Section(
        "/admin/callbacks",
        "Callbacks",
        "The callback queue and what became of each call; request and cancel.",
        Permission.VIEW,
    ),
    Section(
        "/admin/sms",
        "SMS",
        "Inbox and outbox with their states; send a message.",
        Permission.VIEW,
    ),
    Section(
        "/admin/calls",
        "Call log",
        "Every call: search by number and date, direction and outcome, recordings.",
        Permission.VIEW,
    ),
    Section(
        "/admin/subscribers",
        "Subscribers",
        "Look up by number or login; with the embedded billing: edit, freeze, payments.",
        Permission.VIEW,
    ),
    Section(
        "/admin/status",
        "Status",
        "The AMI link, billing, FastAGI, the spool, Telegram and jobs, as /healthz sees them.",
        Permission.VIEW,
    ),
    Section(
        "/admin/campaigns",
        "Campaigns",
        "Call-out campaigns: numbers, weekly schedule, message, progress and reports.",
        Permission.VIEW,
    ),
    Section(
        "/admin/users",
        "Staff accounts",
        "Who may log in here, with which role; passwords and disabling.",
        Permission.USERS,
    ),
    Section(
        "/admin/tokens",
        "API tokens",
        "Bearer tokens of the REST API: create, revoke.",
        Permission.TOKENS,
    ),
)


def visible(role: Role) -> list[Section]:
    return [s for s in SECTIONS if allowed(role, s.permission)]
