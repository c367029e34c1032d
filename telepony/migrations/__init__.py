"""The TelePony feed's Alembic history (branch label `telepony`)."""

from pathlib import Path

VERSIONS = Path(__file__).with_name("versions")
