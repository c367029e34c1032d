"""Who may do what on the admin pages: the one table, enforced by the server.

Every admin route declares the permission it needs (web/admin/routing.py); the session
middleware (web/admin/app.py) answers 403 when the user's role lacks it, whatever the
page showed. A new kind of work gets a new member here and a line in ROLES.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from web.staff import Role


class Permission(StrEnum):
    VIEW = "view"
    """See the pages: status, lists, reports."""
    CAMPAIGNS = "campaigns"
    """Create, edit, start and pause call campaigns."""
    CALLBACKS = "callbacks"
    """Request and cancel callbacks."""
    SMS = "sms"
    """Send SMS."""
    SUBSCRIBERS = "subscribers"
    """Edit and freeze subscribers of the embedded billing."""
    MONEY = "money"
    """Move money: payments, credit, balance corrections."""
    USERS = "users"
    """Manage staff accounts."""
    TOKENS = "tokens"
    """Manage API tokens."""


ROLES: Final[Mapping[Role, frozenset[Permission]]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(Permission) - {Permission.MONEY, Permission.USERS, Permission.TOKENS},
}
"""Admins may do everything; operators all but staff accounts, API tokens and money."""


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLES[role]
