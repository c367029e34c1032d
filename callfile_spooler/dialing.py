"""From a campaign's number to its call file: the trunk's dial string, channel and variables.

Every call file carries, besides the number's own variables:

* `CAMPAIGN_ID`, `CAMPAIGN_ATTEMPT_ID`: which campaign and attempt the call is (the
  `failed` extension and the UserEvents the dialplan sends hand them back);
* `CAMPAIGN_NUMBER`: the number in E.164 (`+380501234567`);
* `CAMPAIGN_EXTENSION`: the number's IVR extension when it has one (the extension is also
  where the answered call goes in the campaign's context).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callfile_spooler import escape
from callfile_spooler.callfile import CallFile
from callfile_spooler.errors import CallFileValueError
from callfile_spooler.settings import SpoolSettings
from primitives.phones import PhoneNormaliser

VAR_CAMPAIGN = "CAMPAIGN_ID"
VAR_ATTEMPT = "CAMPAIGN_ATTEMPT_ID"
VAR_NUMBER = "CAMPAIGN_NUMBER"
VAR_EXTENSION = "CAMPAIGN_EXTENSION"


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how a campaign's answered calls go (a campaign row, as the builder needs it)."""

    campaign_id: int
    context: str
    extension: str
    callerid: str | None


@dataclass(frozen=True, slots=True)
class Callee:
    attempt_id: int
    number: str  # E.164
    extension: str | None
    variables: tuple[tuple[str, str], ...]


_NATIONAL = re.compile(r"\{national(_significant)?\}")


class Dialer:
    """Renders numbers in the trunk's format (`spool.dial_format`, `spool.channel`)."""

    def __init__(self, settings: SpoolSettings, phones: PhoneNormaliser) -> None:
        self.settings = settings
        self.phones = phones

    def dial_string(self, e164: str) -> str:
        template = self.settings.dial_format
        if _NATIONAL.search(template) and not self.phones.is_domestic(e164):
            template = self.settings.international_format
            if not template:
                raise CallFileValueError(
                    f"{e164} is not a {self.phones.default_region} number and "
                    "spool.international_format is empty: numbers of other countries are "
                    "not dialled"
                )
        nsn = self.phones.national_significant(e164)
        digits = e164.removeprefix("+")
        parts = {
            "e164": digits,
            "national": self.phones.national(e164),
            "national_significant": nsn,
            "country_code": digits[: len(digits) - len(nsn)],
        }
        return escape.dial_string(template.format(**parts))

    def channel(self, e164: str) -> str:
        return escape.channel(self.settings.channel.format(number=self.dial_string(e164)))

    def call_file(self, target: Target, callee: Callee) -> CallFile:
        """The call file of one attempt. Raises CallFileValueError for a value that cannot
        be written (the attempt then fails without a call)."""
        variables = [
            (VAR_CAMPAIGN, str(target.campaign_id)),
            (VAR_ATTEMPT, str(callee.attempt_id)),
            (VAR_NUMBER, callee.number),
        ]
        if callee.extension:
            variables.append((VAR_EXTENSION, callee.extension))
        variables.extend(callee.variables)
        callerid = target.callerid if target.callerid is not None else self.settings.callerid
        return CallFile(
            channel=self.channel(callee.number),
            callerid=callerid,
            max_retries=0,
            wait_time=self.settings.wait_time,
            context=target.context,
            extension=callee.extension or target.extension,
            priority=1,
            variables=tuple(variables),
            archive=True,
        )
