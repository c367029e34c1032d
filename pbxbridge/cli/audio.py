"""`pbxbridge campaign audio NAME [FILE]`: a campaign's message.

Registered in the `campaign` group by the CLI's main module (`campaign.add_command(audio)`).
"""

from __future__ import annotations

from pathlib import Path

import click

from callfile_spooler.audio import CampaignAudio
from callfile_spooler.errors import CallfileSpoolerError
from pbxbridge.app import Core
from pbxbridge.cli.common import with_core


@click.command("audio")
@click.argument("name")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def audio(ctx: click.Context, name: str, file: Path | None) -> None:
    """Make FILE (mp3, ogg, wav… anything ffmpeg reads) campaign NAME's message: it is
    converted to 8 kHz mono WAV (and spool.audio_formats) in spool.sounds_dir, and the
    campaign's calls play it from then on. Without FILE: show the current message."""

    async def body(core: Core) -> None:
        messages = CampaignAudio(core.sessions, core.clock, core.settings.spool)
        try:
            if file is None:
                info = await messages.get(name)
                click.echo(info.describe() if info else f"{name}: no message yet")
                return
            click.echo((await messages.attach(name, file)).describe())
        except CallfileSpoolerError as exc:
            raise click.ClickException(str(exc)) from None

    with_core(ctx, body)
