"""Ubilling's WhyDoYouCall parser of the Askozia CSV, re-implemented: the peer that reads
what the Askozia face (askozia_api/askozia.py) answers.

api/libs/api.wdyc.php `fetchAskoziaCalls` (reference §1.4), line by line in its order: explode
on `\\n`, drop empty lines, explode on `;`, delete `"`, skip the header, the "CFE fix" (more
than 25 fields: drop field 3), fields 1, 2, 7, 9, 13, 14 and 16, rows of a day of billsec
or more ignored. PHP's ispos() is `in`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Wdyc:
    unanswered: dict[str, list[str]] = field(default_factory=dict)
    misscount: dict[str, int] = field(default_factory=dict)
    recalled: dict[str, dict[str, int]] = field(default_factory=dict)


def _strtotime(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp())


def wdyc_parse(raw: str) -> Wdyc:
    """fetchAskoziaCalls, line by line (PHP's ispos() is `in`)."""
    rows = [line.split(";") for line in raw.split("\n") if line]
    rows = [[value.replace('"', "") for value in row] for row in rows]
    out = Wdyc()
    tries: dict[str, int] = {}
    income_times: dict[str, str] = {}
    for each in rows[1:]:  # unset($normalCalls[0])
        if len(each) > 25:  # Askozia CFE fix
            del each[3]
        incoming, destination = each[1], each[2]
        income_times[incoming] = each[9]
        if int(each[13]) >= 86_400:
            continue
        if "NO ANSWER" in each[14] or "VoiceMail" in each[7]:
            if "out" not in each[16] and len(incoming) > 3:
                out.unanswered[incoming] = each
                tries[incoming] = tries.get(incoming, 0) + 1
        elif incoming in out.unanswered:
            del out.unanswered[incoming]
        elif "380" in incoming:
            out.unanswered.pop(incoming.replace("38", ""), None)
        if each[2] == incoming and "ANSWERED" in each[14]:
            out.unanswered.pop(incoming, None)
        if "Unknown" in incoming:
            out.unanswered.pop(incoming, None)
        if "out" in each[16]:
            answered = "ANSWERED" in each[14]
            for number in (destination, "38" + destination):
                if number not in out.unanswered:
                    continue
                if answered:
                    del out.unanswered[number]
                seen = out.recalled.get(number)
                if seen is not None:
                    seen["time"] += int(each[13])
                    seen["count"] += 1
                else:
                    trytime = 0
                    if number in income_times:
                        trytime = _strtotime(each[9]) - _strtotime(income_times[number])
                    out.recalled[number] = {"time": int(each[13]), "count": 1, "trytime": trytime}
    out.misscount = {n: tries[n] for n in out.unanswered}
    return out
