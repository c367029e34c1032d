"""The `pbxbridge` command group."""

from __future__ import annotations

from pathlib import Path

import click

from pbxbridge.cli.audio import audio
from pbxbridge.cli.callback import callback
from pbxbridge.cli.calls import calls
from pbxbridge.cli.campaign import campaign
from pbxbridge.cli.check import check_command
from pbxbridge.cli.common import CliState
from pbxbridge.cli.config import config
from pbxbridge.cli.database import db
from pbxbridge.cli.jobs import jobs
from pbxbridge.cli.lines import line
from pbxbridge.cli.lockouts import lockouts
from pbxbridge.cli.missed import missed
from pbxbridge.cli.paycards import paycards
from pbxbridge.cli.probe import agi_probe
from pbxbridge.cli.service import audit_command, run_command
from pbxbridge.cli.sms import sms
from pbxbridge.cli.subscribers import payments, subscribers
from pbxbridge.cli.tokens import tokens
from pbxbridge.cli.users import users
from pbxbridge.cli.webhooks import webhooks


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pbxbridge", message="pbxbridge %(version)s")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help=(
        "TOML config file (default: $PBXBRIDGE_CONFIG, else ./pbxbridge.toml, else "
        "/etc/pbxbridge/pbxbridge.toml, the first that exists)."
    ),
)
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """pbxbridge: Asterisk ↔ ISP billing."""
    cli_state = ctx.ensure_object(CliState)  # a caller may pass its own (with its clock)
    if config is not None:
        cli_state.config = config


for command in (
    run_command,
    check_command,
    audit_command,
    agi_probe,
    db,
    subscribers,
    payments,
    paycards,
    lockouts,
    sms,
    missed,
    calls,
    campaign,
    callback,
    tokens,
    users,
    config,
    line,
    jobs,
    webhooks,
):
    cli.add_command(command)


campaign.add_command(audio)


def main() -> None:
    cli(prog_name="pbxbridge")
