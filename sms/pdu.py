"""Just enough of 3GPP TS 23.040 to read one part of a concatenated SMS from `*NewCMGR`.

chan_dongle raises `DongleNewCMGR` (chan_quectel `QuectelNewCMGR`) for every `+CMGR` it
reads, before parsing it: `+CMGR: <stat>,,<length>` and the PDU in hex, with CR and LF
written as the two-character escapes. Only SMS-DELIVER PDUs with a concatenation header
(IEI 0x00, 8-bit reference, or 0x08, 16-bit) matter here: they are how a part is told
from a whole message, since the `*NewSMS` events of a part carry no part number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sms.errors import PduError
from sms.text import GSM7_BASIC, GSM7_EXTENSION
from sms.types import PartInfo

_HEX_LINE = re.compile(r"^[0-9A-Fa-f]+$")


@dataclass(frozen=True, slots=True)
class Deliver:
    """An SMS-DELIVER: originator, text, and the part header when it has one."""

    sender: str
    text: str
    part: PartInfo | None


def cmgr_pdu(message: str) -> bytes:
    """The PDU bytes of a `*NewCMGR` Message header (escaped or real line breaks)."""
    lines = re.split(r"\\r\\n|\\n|\\r|\r\n|\n|\r", message)
    for line in lines:
        candidate = line.strip()
        if candidate and not candidate.startswith("+CMGR") and _HEX_LINE.match(candidate):
            if len(candidate) % 2:
                raise PduError("odd number of hex digits")
            return bytes.fromhex(candidate)
    raise PduError("no PDU in +CMGR")


def decode_deliver(pdu: bytes) -> Deliver:
    """Decode an SMS-DELIVER with its SMSC prefix (PDU mode as `+CMGR` gives it).

    Raises PduError for anything else (a status report, a submit, a truncated PDU).
    """
    try:
        return _decode(pdu)
    except IndexError:
        raise PduError("PDU is truncated") from None


def _decode(pdu: bytes) -> Deliver:
    pos = 1 + pdu[0]  # SMSC address: length in octets, then the address
    first = pdu[pos]
    pos += 1
    if first & 0x03 != 0:
        raise PduError(f"not an SMS-DELIVER (MTI {first & 0x03})")
    has_udh = bool(first & 0x40)
    digits = pdu[pos]
    toa = pdu[pos + 1]
    octets = (digits + 1) // 2
    address = pdu[pos + 2 : pos + 2 + octets]
    if len(address) != octets:
        raise PduError("PDU is truncated")
    pos += 2 + octets
    sender = _address(address, digits, toa)
    pos += 1  # TP-PID
    dcs = pdu[pos]
    pos += 1 + 7  # TP-DCS, TP-SCTS
    udl = pdu[pos]
    ud = pdu[pos + 1 :]
    alphabet = _alphabet(dcs)
    part: PartInfo | None = None
    header_octets = 0
    if has_udh:
        udhl = ud[0]
        header = ud[1 : 1 + udhl]
        if len(header) != udhl:
            raise PduError("PDU is truncated")
        part = _concatenation(header)
        header_octets = 1 + udhl
    if alphabet == "gsm7":
        if len(ud) * 8 < udl * 7:
            raise PduError("PDU is truncated")
        skip = (header_octets * 8 + 6) // 7
        septets = _unpack_septets(ud, udl)
        text = _gsm7_text(septets[skip:])
    else:
        body = ud[header_octets:udl]
        if len(body) != udl - header_octets:
            raise PduError("PDU is truncated")
        if alphabet == "ucs2":
            text = body.decode("utf-16-be", errors="replace")
        else:
            text = body.decode("latin-1")
    return Deliver(sender=sender, text=text, part=part)


def _alphabet(dcs: int) -> str:
    group = dcs >> 4
    if group <= 0x07:  # general data coding (bits 5-4: compressed/class flags)
        if dcs & 0x20:
            raise PduError("compressed text is not supported")
        return {0: "gsm7", 1: "8bit", 2: "ucs2"}.get((dcs >> 2) & 0x03, "gsm7")
    if group in (0x0C, 0x0D):
        return "gsm7"
    if group == 0x0E:
        return "ucs2"
    if group == 0x0F:
        return "8bit" if dcs & 0x04 else "gsm7"
    raise PduError(f"reserved data coding scheme 0x{dcs:02X}")


def _concatenation(header: bytes) -> PartInfo | None:
    pos = 0
    while pos + 1 < len(header):
        iei, length = header[pos], header[pos + 1]
        data = header[pos + 2 : pos + 2 + length]
        if iei == 0x00 and length == 3:
            ref, total, seq = data
            return _part(ref, total, seq)
        if iei == 0x08 and length == 4:
            return _part((data[0] << 8) | data[1], data[2], data[3])
        pos += 2 + length
    return None


def _part(ref: int, total: int, seq: int) -> PartInfo | None:
    if total < 1 or not 1 <= seq <= total:
        return None  # TS 23.040: ignore the element
    return PartInfo(ref=ref, total=total, seq=seq)


def _address(octets: bytes, digits: int, toa: int) -> str:
    if (toa >> 4) & 0x07 == 0x05:  # alphanumeric, GSM-7 packed
        return _gsm7_text(_unpack_septets(octets, digits * 4 // 7))
    semi = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in octets)[:digits]
    number = semi.translate(str.maketrans("ABC", "*#a")).rstrip("F")
    return f"+{number}" if (toa >> 4) & 0x07 == 0x01 else number


def _unpack_septets(data: bytes, count: int) -> list[int]:
    value = int.from_bytes(data, "little")
    return [(value >> (7 * i)) & 0x7F for i in range(count)]


def _gsm7_text(septets: list[int]) -> str:
    out: list[str] = []
    escape = False
    for septet in septets:
        if escape:
            out.append(GSM7_EXTENSION.get(septet, GSM7_BASIC[septet]))
            escape = False
        elif septet == 0x1B:
            escape = True
        else:
            out.append(GSM7_BASIC[septet])
    return "".join(out)
