"""The errors of the storage room, as one tree (httpx's `_exceptions.py` is the model):

    PbxbridgeError        (primitives.errors)
    └── StorageError      anything storage refuses

Nothing raises it yet, on purpose: a database failure reaches callers as SQLAlchemy's own
exception (`SQLAlchemyError`, `DBAPIError`), which each room already handles where it can
retry or report it, and wrapping it would hide the driver's words. The base is here so that
what storage refuses later joins the tree, not a new root.
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class StorageError(PbxbridgeError):
    """Base of every error of the storage room."""
