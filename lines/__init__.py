"""Voice lines sold through a hosting billing (BILLmanager's ShellScripts).

A line is a PJSIP endpoint + auth + aor in an include file pbxbridge owns
(`lines.pjsip_file`), applied with `module reload res_pjsip.so` over AMI. `Lines` is the
whole public surface: open, suspend, resume, close, setparam, views, follow (a subscriber
frozen or unfrozen in the embedded billing) and apply_pending (a reload AMI missed).
"""

from lines.errors import LineError
from lines.service import Done, Lines, LineView
from lines.settings import LinesSettings

__all__ = ["Done", "LineError", "LineView", "Lines", "LinesSettings"]
