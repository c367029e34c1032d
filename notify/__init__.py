"""notify: staff notifications and the staff command bot on Telegram (aiogram 3)."""

from notify.bot import StaffBot
from notify.notices import (
    InboundSmsNotice,
    LinkNotice,
    MissedCallNotice,
    Notice,
    SmsFailedNotice,
)
from notify.notifier import StaffNotifier
from notify.service import Telegram, create_bot
from notify.settings import TelegramSettings

__all__ = [
    "InboundSmsNotice",
    "LinkNotice",
    "MissedCallNotice",
    "Notice",
    "SmsFailedNotice",
    "StaffBot",
    "StaffNotifier",
    "Telegram",
    "TelegramSettings",
    "create_bot",
]
