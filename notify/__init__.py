"""notify: staff notifications and the staff command bot on Telegram (aiogram 3).

Only the notices and the settings are imported here: aiogram takes seconds to import, and
the CLI and the process-per-call AGI script must not pay that when Telegram is off. The
Telegram side lives in `notify.service` (Telegram, create_bot), `notify.notifier`
(StaffNotifier) and `notify.bot` (StaffBot).
"""

from notify.notices import (
    AlertNotice,
    InboundSmsNotice,
    LinkNotice,
    LockoutNotice,
    MissedCallNotice,
    Notice,
    SmsFailedNotice,
)
from notify.settings import TelegramSettings

__all__ = [
    "AlertNotice",
    "InboundSmsNotice",
    "LinkNotice",
    "LockoutNotice",
    "MissedCallNotice",
    "Notice",
    "SmsFailedNotice",
    "TelegramSettings",
]
