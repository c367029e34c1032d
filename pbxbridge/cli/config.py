"""`pbxbridge config init`: the project folder's config file, which `make run` starts from."""

from __future__ import annotations

import os
from pathlib import Path

import click

from pbxbridge.example_config import render_local
from pbxbridge.settings import LOCAL_CONFIG


@click.group()
def config() -> None:
    """The configuration file."""


@config.command("init")
@click.argument(
    "path",
    required=False,
    default=LOCAL_CONFIG,
    type=click.Path(dir_okay=False, path_type=Path),
)
def init_command(path: Path) -> None:
    """Write the example configuration to PATH (default ./pbxbridge.toml) with the
    database, the call-file spool and the campaign sounds under ./var next to it.

    An existing file is never overwritten. pbxbridge run from that folder (the service and
    the CLI) reads ./pbxbridge.toml when neither --config nor $PBXBRIDGE_CONFIG names
    another file.
    """
    try:
        # O_EXCL: refuse an existing file (or a link to one) in the same step that creates
        # the new one; 0600 because the file is where the billing key and the AMI secret go.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(
            f"{path} exists and is left as it is (edit it, or remove it to start again from "
            "the example)"
        ) from None
    except OSError as exc:
        raise click.ClickException(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(render_local())
    folder = path.resolve().parent
    click.echo(
        f"wrote {path}: database, call-file spool and campaign sounds under {folder / 'var'}"
    )
