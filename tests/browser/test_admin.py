"""Staff at the admin pages, in a real browser: logging in, a wrong password, a forged form,
an admin adding an operator who then logs in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import Browse, Live, add_staff, expect, expect_page, log_in
from web.staff import Role

if TYPE_CHECKING:
    from playwright.sync_api import Locator


def user_form(browse: Browse, name: str, role: str, password: str) -> Locator:
    """The staff accounts page's "Add a staff account" form, filled in."""
    browse.goto("/admin/users")
    form = browse.page.locator("form[action='/admin/users']")
    form.get_by_label("User name").fill(name)
    form.get_by_label("Role").select_option(role)
    form.get_by_label("Password").fill(password)
    return form


def test_a_wrong_password_is_refused(browse: Browse, live: Live) -> None:
    add_staff(live, "anna", Role.ADMIN)
    log_in(browse, "anna", "not her password", expect_home=False)
    page = browse.page
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    expect_page(page).to_have_url(browse.url("/admin/login"))
    browse.shot("wrong-password")
    browse.goto("/admin/")  # still logged out: back to the form
    expect_page(page).to_have_url(browse.url("/admin/login"))


def test_a_form_without_its_csrf_token_is_rejected(browse: Browse, live: Live) -> None:
    add_staff(live, "anna", Role.ADMIN)
    log_in(browse, "anna")
    page = browse.page
    form = user_form(browse, "mallory", "operator", "correct horse battery")
    # what another site's page would post: the same fields, no token of this session
    form.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    form.get_by_role("button", name="Add").click()
    expect(page.locator("body")).to_contain_text("this form is out of date")
    browse.shot("forged-form")
    names = [u.name for u in live.run(live.staff.list())]
    assert "mallory" not in names


def test_an_admin_adds_an_operator_who_logs_in(browse: Browse, live: Live) -> None:
    add_staff(live, "anna", Role.ADMIN)
    log_in(browse, "anna")
    page = browse.page
    user_form(browse, "oleh", "operator", "operator's long password").get_by_role(
        "button", name="Add"
    ).click()
    expect(page.get_by_text("User oleh added.")).to_be_visible()
    browse.shot("operator-added")
    page.get_by_role("button", name="Log out").click()

    log_in(browse, "oleh", "operator's long password")
    expect(page.locator(".who")).to_contain_text("oleh")
    # an operator manages no users: the section is not offered and not opened
    expect(page.get_by_role("link", name="Staff accounts")).to_have_count(0)
    answer = page.goto(browse.url("/admin/users"))
    assert answer is not None
    assert answer.status == 403
    browse.shot("operator-refused-users")
