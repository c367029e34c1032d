"""The suite passes whatever the machine running it holds: PBXBRIDGE_* variables exported
to run the service, a pbxbridge.toml in the working directory, a system config file.

The last test runs the first two in a child pytest started from a shell that has all of
that, the way a user who also runs the service would start `make test`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pbxbridge.settings import load_settings
from tests.conftest import shell_settings

ROOT = Path(__file__).resolve().parents[1]


def test_no_pbxbridge_variable_of_the_shell_reaches_a_test() -> None:
    assert shell_settings(os.environ) == []


def test_no_config_file_is_found_unless_one_is_given() -> None:
    assert not Path("pbxbridge.toml").exists()
    settings, path = load_settings()
    assert path is None
    assert (settings.agi.port, settings.ami.port, settings.billing.backend) == (
        4573,
        5038,
        "local",
    )


def test_a_shell_configured_for_the_service_does_not_reach_the_suite(tmp_path: Path) -> None:
    hostile = tmp_path / "service.toml"
    hostile.write_text("[agi]\nport = 4001\n[ami]\nport = 4002\n", encoding="utf-8")
    (tmp_path / "pbxbridge.toml").write_text("[agi]\nport = 4003\n", encoding="utf-8")
    env = {
        **os.environ,
        "PBXBRIDGE_CONFIG": str(hostile),
        "PBXBRIDGE_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'service.db'}",
        "PBXBRIDGE_AGI__PORT": "4999",
        "pbxbridge_ami__port": "5999",  # the settings read names in any case
        "PBXBRIDGE_SPOOL__DIR": str(tmp_path / "nospool"),
        "PBXBRIDGE_BILLING__BACKEND": "ubilling",
    }
    here = Path(__file__).resolve()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            f"{here}::test_no_pbxbridge_variable_of_the_shell_reaches_a_test",
            f"{here}::test_no_config_file_is_found_unless_one_is_given",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert not (tmp_path / "service.db").exists()
