"""`pbxbridge sms send` and `pbxbridge sms list`: the outbox and inbox from the shell.

`send` only queues: the running service (`pbxbridge run`) sends, so a message typed here
is sent once, by one process, with the outbox's crash guarantees.
"""

from __future__ import annotations

import click

from pbxbridge.app import Core
from pbxbridge.cli.common import actor, with_core
from pbxbridge.cli.format import echo_err, local_time
from sms.errors import SmsRefused
from sms.inbox import Inbox
from sms.outbox import Outbox
from sms.types import OutboxMessage, OutboxState, StoredSms

STATES = [s.value for s in OutboxState]


def queue_only_outbox(core: Core) -> Outbox:
    return Outbox(core.sessions, core.clock, None, core.settings.sms, phones=core.phones)


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" for line in (text.split("\n") or [""]))


def inbox_entry(core: Core, sms: StoredSms) -> str:
    who = sms.sender
    if sms.login:
        who += f" ({sms.login}{', ' + sms.name if sms.name else ''})"
    notes = [sms.source]
    if sms.parts > 1:
        notes.append(f"{sms.parts} parts")
    if sms.parts_missing:
        notes.append(f"{sms.parts_missing} missing")
    if sms.reply_id is not None:
        notes.append(f"reply #{sms.reply_id}")
    when = local_time(core.clock, sms.received_at)
    head = f"#{sms.id}  {when}  {sms.device}  from {who}  [{', '.join(notes)}]"
    return f"{head}\n{_indented(sms.text)}"


def outbox_entry(core: Core, message: OutboxMessage) -> str:
    part = f"  part {message.part_no}/{message.part_count}" if message.part_count > 1 else ""
    head = (
        f"#{message.id}  {local_time(core.clock, message.created_at)}  to {message.number}  via "
        f"{message.transport}/{message.device}  {message.state.value}{part}  "
        f"attempts {message.attempts}  by {message.actor}"
    )
    lines = [head]
    if message.last_error:
        lines.append(f"  ! {message.last_error}")
    lines.append(_indented(message.text))
    return "\n".join(lines)


@click.group()
def sms() -> None:
    """SMS: queue a message, list the inbox and the outbox."""


@sms.command("send")
@click.argument("number")
@click.argument("text")
@click.option("--device", help="Modem (chan_dongle/chan_quectel device) to send through.")
@click.option(
    "--translit/--no-translit",
    default=None,
    help="Transliterate Cyrillic to Latin (default: sms.transliterate).",
)
@click.pass_context
def send(
    ctx: click.Context, number: str, text: str, device: str | None, translit: bool | None
) -> None:
    """Queue TEXT for NUMBER; the running service sends it."""

    async def body(core: Core) -> None:
        outbox = queue_only_outbox(core)
        try:
            first = await outbox.queue(
                number, text, device=device, transliterate=translit, actor=actor()
            )
        except SmsRefused as exc:
            raise click.ClickException(str(exc)) from None
        for message in await outbox.group(first):
            part = (
                f" (part {message.part_no}/{message.part_count})" if message.part_count > 1 else ""
            )
            click.echo(f"SMS {message.id}{part} to {message.number}: {message.state.value}")
        note = await sending_note(core, outbox)
        if note:
            echo_err(note)

    with_core(ctx, body)


async def sending_note(core: Core, outbox: Outbox) -> str | None:
    """Whether a message queued now goes now, from the running service's heartbeat (the
    CLI cannot see its AMI link itself); None when it does."""
    waits = "the message waits in the queue"
    if not core.settings.ami.enabled:
        return f"[ami] enabled = false: nothing sends SMS with this configuration; {waits}"
    status = await outbox.worker_status()
    if status is None or not status.alive(core.clock.now(), outbox.stale_after()):
        last = (
            "never seen on this database"
            if status is None
            else f"last seen {local_time(core.clock, status.seen_at)}"
        )
        return f"pbxbridge run is not running ({last}): {waits} and goes when it runs"
    if not status.ready:
        since = local_time(core.clock, status.ready_since)
        return (
            f"Asterisk is not connected now (since {since}): {waits} and goes when the link is up"
        )
    return None


@sms.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option(
    "--state",
    type=click.Choice(STATES),
    help="Only outbox messages in this state (the inbox is then not shown).",
)
@click.pass_context
def list_(ctx: click.Context, limit: int, state: str | None) -> None:
    """The newest inbound and outbound messages, texts in full."""

    async def body(core: Core) -> None:
        settings = core.settings.sms
        outbox = queue_only_outbox(core)
        if state is None:
            inbox = Inbox(core.sessions, core.clock, core.billing, settings, outbox=outbox)
            received = await inbox.list(limit)
            click.echo(f"Inbox ({len(received)}, newest first)")
            for item in received:
                click.echo(inbox_entry(core, item))
            click.echo("")
        sent = await outbox.list(limit, state)
        title = f"Outbox ({len(sent)}{', ' + state if state else ''}, newest first)"
        click.echo(title)
        for message in sent:
            click.echo(outbox_entry(core, message))

    with_core(ctx, body)
