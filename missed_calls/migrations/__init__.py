"""The missed-calls tracker's Alembic history (branch label `missed_calls`)."""

from pathlib import Path

VERSIONS = Path(__file__).with_name("versions")
