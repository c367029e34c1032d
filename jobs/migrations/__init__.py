"""The scheduler's Alembic history (branch label `jobs`)."""

from pathlib import Path

VERSIONS = Path(__file__).with_name("versions")
