"""The process's open-files limit, raised at start to what FastAGI may have to hold.

Every FastAGI connection is an open file, those still sending their header included
(`agi.max_pending`, 4096 by default, plus `agi.max_sessions`). Distributions start
services with a soft limit of 1024; past it `accept()` fails with EMFILE and asyncio stops
accepting for a second, so real calls would be refused. The soft limit may be raised up to
the hard one without privileges (the systemd unit sets both with LimitNOFILE).
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("pbxbridge")

UNBOUNDED_TARGET = 65536
"""Soft limit asked for when the hard limit is unlimited (the kernel refuses "unlimited")."""


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; log the outcome in one line.

    Returns the soft limit in force afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNBOUNDED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        log.info("open-files limit: %s", "unlimited" if soft < 0 else f"{soft:,}")
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("open-files limit stays at %s: raising it to %s failed: %s", soft, target, exc)
        return soft
    log.info("open-files limit raised from %s to %s", f"{soft:,}", f"{target:,}")
    return target
