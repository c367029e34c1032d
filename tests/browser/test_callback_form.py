"""A customer asks for a callback from the public form, in a real browser."""

from __future__ import annotations

from tests.browser.conftest import Browse, Live, expect


def test_a_customer_asks_for_a_callback_and_it_is_queued(browse: Browse, live: Live) -> None:
    page = browse.page
    browse.goto("/callback")
    expect(page.get_by_role("heading", name="Call me back")).to_be_visible()
    page.get_by_label("Phone number").fill("050 765 43 21")
    page.get_by_label("Your name").fill("Petro")
    page.get_by_label("Comment").fill("The internet is down since morning")
    browse.document("callback-form")
    page.get_by_role("button", name="Request a call").click()

    expect(page.get_by_role("status")).to_contain_text("Thank you!")
    browse.shot("callback-confirmed")
    requests = live.run(live.service.callbacks.list_requests())
    assert [(r.number, r.name) for r in requests] == [("+380507654321", "Petro")], requests
