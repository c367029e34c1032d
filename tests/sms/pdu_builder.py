"""Builds SMS-DELIVER PDUs (3GPP TS 23.040) as a modem returns them in `+CMGR`.

Used to make the hand-made `*NewCMGR` fixtures (chan_dongle was never captured) and to
check `sms.pdu` against PDUs whose every field is known.
"""

from __future__ import annotations

from sms.text import GSM7_BASIC, GSM7_EXTENSION

_EXT = {char: septet for septet, char in GSM7_EXTENSION.items()}


def semi_octets(digits: str) -> bytes:
    padded = digits + ("F" if len(digits) % 2 else "")
    return bytes(int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))


def gsm7_septets(text: str) -> list[int]:
    out: list[int] = []
    for char in text:
        if char in _EXT:
            out += [0x1B, _EXT[char]]
        else:
            out.append(GSM7_BASIC.index(char))
    return out


def pack(septets: list[int], header: bytes = b"") -> tuple[int, bytes]:
    """(UDL in septets, user data): `header` first, fill bits, then the septets."""
    skip = (len(header) * 8 + 6) // 7
    value = int.from_bytes(header, "little")
    for i, septet in enumerate(septets):
        value |= septet << (7 * (skip + i))
    count = skip + len(septets)
    return count, value.to_bytes((count * 7 + 7) // 8, "little")


def deliver(
    sender: str,
    text: str,
    *,
    ucs2: bool,
    part: tuple[int, int, int] | None = None,
    ref16: bool = False,
    smsc: str = "380672021111",
) -> str:
    """The PDU in hex: SMSC, SMS-DELIVER from `sender` (international when it starts with
    +), `text` in GSM-7 or UCS-2, and a concatenation header (ref, total, seq)."""
    header = b""
    if part is not None:
        ref, total, seq = part
        if ref16:
            header = bytes([6, 0x08, 4, ref >> 8, ref & 0xFF, total, seq])
        else:
            header = bytes([5, 0x00, 3, ref, total, seq])
    smsc_octets = bytes([0x91]) + semi_octets(smsc)
    out = bytes([len(smsc_octets)]) + smsc_octets
    out += bytes([0x04 | (0x40 if header else 0)])
    digits = sender.lstrip("+")
    out += bytes([len(digits), 0x91 if sender.startswith("+") else 0x81]) + semi_octets(digits)
    out += bytes([0x00, 0x08 if ucs2 else 0x00])
    out += bytes.fromhex("62112221000080")  # 2026-11-22 12:00:00 +02:00
    if ucs2:
        data = header + text.encode("utf-16-be")
        out += bytes([len(data)]) + data
    else:
        udl, data = pack(gsm7_septets(text), header)
        out += bytes([udl]) + data
    return out.hex().upper()


def cmgr_message(pdu_hex: str, stat: int = 0) -> str:
    """The `Message` header of `DongleNewCMGR`: CR and LF written as `\\r` and `\\n`."""
    tpdu_len = len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)
    return f"+CMGR: {stat},,{tpdu_len}\\r\\n{pdu_hex}\\r\\n"
