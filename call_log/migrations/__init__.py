"""The call log's Alembic history (branch label `call_log`)."""

from pathlib import Path

VERSIONS = Path(__file__).with_name("versions")
