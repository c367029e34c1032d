"""What the TelePony feed raises. Every message is one line, with no password in it.

PbxbridgeError
└── TeleponyError         the TelePony feed could not do it
    ├── BadCdr            an AMI Cdr event that cannot become a row (no UniqueID…);
    │                     the consumer logs it and goes on
    └── TableUnusable     the MySQL table exists but has none of cdr_mysql's columns
                          (a wrong `[telepony] table`), so nothing can be written to it
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class TeleponyError(PbxbridgeError):
    """The TelePony feed could not do it."""


class BadCdr(TeleponyError):
    """An AMI `Cdr` event that cannot become a cdr_mysql row."""


class TableUnusable(TeleponyError):
    """The configured MySQL table has none of the columns cdr_mysql writes."""
