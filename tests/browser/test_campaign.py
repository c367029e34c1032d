"""An operator runs a campaign from the admin pages, in a real browser: two numbers pasted,
a weekly schedule, a message uploaded, started; the fake call-file Asterisk dials them and
reports one answered and one not, and the page shows the progress as it changes (the live
feed), without a reload."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from callfile_spooler.callfile import ArchivedCallFile
from tests.browser.conftest import Browse, Live, add_staff, expect, expect_page, log_in
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate
from tests.web.conftest import tone
from web.staff import Role

__all__ = ["tone"]  # the fixture: ffmpeg's 1 s mp3 (skips, or fails under CI, without ffmpeg)


def fate(call: ArchivedCallFile) -> Fate:
    """The first number answers; the second does not (Reason 3: no answer)."""
    return Fate(1, reason=3 if call.variables["CAMPAIGN_NUMBER"].endswith("2") else None)


async def dial_and_report(live: Live, asterisk: FakeAsterisk) -> int:
    """Asterisk picks the call files up, the calls end, the outcomes are reported (the
    UserEvent of the unanswered one over AMI), and the spooler's clock moves on."""
    spooler = live.service.spooler
    await spooler.tick()
    picked = asterisk.pick_up(live.clock.now())
    live.clock.instant += timedelta(seconds=10)
    asterisk.finish(live.clock.now())
    for event in asterisk.take_events():
        await live.ami.send_event(dict(event.items()))
    live.clock.instant += timedelta(seconds=10)
    spooler.wake()
    return len(picked)


def test_an_operator_runs_a_campaign_and_sees_its_progress(
    browse: Browse, live: Live, tone: bytes, tmp_path: Path
) -> None:
    add_staff(live, "oleh", Role.OPERATOR)
    log_in(browse, "oleh")
    page = browse.page
    browse.goto("/admin/campaigns/new")
    page.get_by_label("Name").fill("promo")
    page.get_by_label("Tuesday").fill("10:00")  # not today (a Monday): no run begins
    page.get_by_label("Thursday").fill("10:00")
    page.get_by_label("Attempts per number").fill("1")
    page.get_by_label("New calls per second").fill("10")
    page.get_by_label("Time window").fill("09:00-20:00")
    browse.shot("campaign-new")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="promo")).to_be_visible()

    page.get_by_label("Paste numbers").fill("0501110001\n0501110002")
    page.get_by_role("button", name="Add numbers").click()
    expect(page.locator("#counts")).to_contain_text("0 of 2 numbers done")

    message = tmp_path / "hello.mp3"
    message.write_bytes(tone)
    page.get_by_label("Upload a message").set_input_files(message)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("audio")).to_have_count(1)
    browse.shot("campaign-ready")

    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    campaign_url = page.url
    progress = page.locator("progress").first
    expect(progress).to_have_attribute("value", "0")

    asterisk = FakeAsterisk(live.service.core.settings.spool.dir, fate)
    assert live.run(dial_and_report(live, asterisk)) == 2
    # the page is not reloaded: the live feed moves its progress bar and counts
    expect(progress).to_have_attribute("value", "2")
    expect(page.locator("#live-feed .feed-campaign").first).to_contain_text("promo: 2/2")
    expect_page(page).to_have_url(campaign_url)
    browse.shot("campaign-progress")
    page.reload()
    expect(page.locator("#counts")).to_contain_text("2 of 2 numbers done")
