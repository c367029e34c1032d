"""The open-files limit: raised at start (a child process starts with a low soft limit)."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

CHILD = """
import logging, resource, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
from pbxbridge.limits import raise_open_files_limit
print("returned", raise_open_files_limit())
print("now", *resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def run_child(soft: int) -> list[str]:
    def lower() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        preexec_fn=lower,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.splitlines()


def test_the_soft_limit_is_raised_to_the_hard_one_in_one_line() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip(f"needs a finite hard open-files limit above 256 (it is {hard})")
    lines = run_child(256)
    assert lines == [
        f"INFO open-files limit raised from 256 to {hard:,}",
        f"returned {hard}",
        f"now {hard} {hard}",
    ]
    # Already at the hard limit: said once, nothing changed.
    assert run_child(hard) == [
        f"INFO open-files limit: {hard:,}",
        f"returned {hard}",
        f"now {hard} {hard}",
    ]
