"""The webhooks' Alembic history (branch label `webhooks`)."""

from pathlib import Path

VERSIONS = Path(__file__).with_name("versions")
