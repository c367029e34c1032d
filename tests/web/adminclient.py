"""A staff member's browser for the admin pages: keeps the cookies (aiohttp's TestClient
does), reads the CSRF token from the page it got, and posts forms with it, as a browser
submitting the page's form would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.web.conftest import CHEAP_HASHER, Client, Rig
from web.staff import Role, StaffStore

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def staff(rig: Rig) -> StaffStore:
    return StaffStore(rig.core.sessions, rig.core.clock, rig.core.audit, CHEAP_HASHER)


async def add_user(rig: Rig, name: str, role: Role = Role.ADMIN, password: str = PASSWORD) -> None:
    await staff(rig).add(name, role, password, actor="cli:test")


@dataclass
class Staff:
    """Pages in English (Accept-Language: en), as most assertions read them."""

    client: Client
    csrf: str = ""

    async def page(self, path: str, status: int = 200, **headers: str) -> str:
        answer = await self.client.get(
            path, headers={"Accept-Language": "en", **headers}, allow_redirects=False
        )
        text = await answer.text()
        assert answer.status == status, (path, answer.status, text[:300])
        if "csrf_token" in text:
            self.csrf = csrf_of(text)
        return text

    async def post(
        self,
        path: str,
        data: dict[str, Any] | list[tuple[str, Any]] | None = None,
        *,
        status: int = 200,
        csrf: str | None = None,
    ) -> tuple[int, str, Any]:
        """Post `data` with the CSRF token of the last page (or `csrf`)."""
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        fields.append(("csrf_token", self.csrf if csrf is None else csrf))
        answer = await self.client.post(
            path, data=fields, headers={"Accept-Language": "en"}, allow_redirects=False
        )
        text = await answer.text()
        assert answer.status == status, (path, answer.status, text[:300])
        if "csrf_token" in text:
            self.csrf = csrf_of(text)
        return answer.status, text, answer.headers

    async def log_in(self, name: str, password: str = PASSWORD, *, status: int = 303) -> Any:
        await self.page("/admin/login")
        _, _, headers = await self.post(
            "/admin/login", {"username": name, "password": password}, status=status
        )
        if status == 303:
            await self.page("/admin/")
        return headers
