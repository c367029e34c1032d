"""Storage: the async engine, the declarative base and the migration runner.

Components own their tables and migration histories; this package only provides the
shared machinery, so that it imports nothing from any component.
"""

from storage.base import Base
from storage.engine import DatabaseSettings, create_engine, session_factory

__all__ = ["Base", "DatabaseSettings", "create_engine", "session_factory"]
