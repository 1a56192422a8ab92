"""GRBL's wire format, without state: real-time bytes, overrides, how a line goes out, what reports say.

Pure functions and constants shared by the engine (:mod:`.engine`) and its tests; nothing here keeps
any state or touches a port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from machines.protocol.events import StatusReport

RT_STATUS = b"?"
RT_FEED_HOLD = b"!"
RT_CYCLE_START = b"~"
RT_SOFT_RESET = b"\x18"
RT_JOG_CANCEL = b"\x85"
RAPID_OVERRIDES = {100: b"\x95", 50: b"\x96", 25: b"\x97"}


@dataclass(frozen=True)
class _OverrideCodes:
    reset: int
    coarse_up: int
    coarse_down: int
    fine_up: int
    fine_down: int


FEED_OVERRIDE = _OverrideCodes(0x90, 0x91, 0x92, 0x93, 0x94)
SPINDLE_OVERRIDE = _OverrideCodes(0x99, 0x9A, 0x9B, 0x9C, 0x9D)

BANNER = re.compile(r"^Grbl\w*\s+(\S+)")
# EEPROM writers and system commands: G10 (L2/L20), G28.1, G30.1 and every "$" line.
_SYNC_LINE = re.compile(r"^\$|G0*10(?![0-9.])|G0*28\.1(?![0-9])|G0*30\.1(?![0-9])")
HOMING_LINE = re.compile(r"^\$H[XYZABCUVW]*$")  # grblHAL homes single axes with $HX...
# A comment runs to ")" or, unclosed, to the end of the line; ";" comments to the end of the line.
_COMMENT = re.compile(r"\([^)]*\)?|;.*")
_SETTING_LINE = re.compile(r"^\$([^=\s]+)=(.*)$")
ALARM_CODE = re.compile(r"ALARM:(\d+)", re.IGNORECASE)
# Machine states in which motion has stopped, so a soft reset cannot lose position.
STILL_STATES = frozenset({"Idle", "Hold:0", "Alarm", "Check", "Sleep", "Door:0", "Door:1"})


def wire_text(text: str) -> str:
    """``text`` as GRBL reads it: comments, whitespace and control characters removed, upper-cased.

    GRBL 1.1's protocol loop (and grblHAL's) discards exactly these characters before parsing, so
    sending the result changes what the buffer holds, never what the controller does. ``""`` means
    there is nothing to send.
    """
    without_comments = _COMMENT.sub("", text)
    return "".join(ch for ch in without_comments.upper() if " " < ch < "\x7f")


def is_sync_command(text: str) -> bool:
    """True for lines GRBL must process with nothing else in its buffer."""
    return bool(_SYNC_LINE.search(text.upper().replace(" ", "")))


def override_bytes(delta: int | Literal["reset"], codes: _OverrideCodes) -> bytes:
    """Real-time bytes moving an override by ``delta`` percent (10s then 1s), or resetting it."""
    if delta == "reset" or delta == 0:
        return bytes([codes.reset])
    if not isinstance(delta, int):
        raise ValueError(f"override delta must be an int or 'reset', not {delta!r}")
    coarse, fine = divmod(abs(delta), 10)
    up = delta > 0
    return (
        bytes([codes.coarse_up if up else codes.coarse_down]) * coarse
        + bytes([codes.fine_up if up else codes.fine_down]) * fine
    )


def _floats(value: str | None) -> tuple[float, ...] | None:
    return None if value is None else tuple(float(part) for part in value.split(","))


def _ints(value: str | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(part) for part in value.split(","))


def _combine(a: tuple[float, ...], b: tuple[float, ...], sign: int) -> tuple[float, ...]:
    # GRBL prints at most 4 decimals; rounding hides binary floating-point noise.
    return tuple(round(x + sign * y, 4) for x, y in zip(a, b, strict=False))


def parse_status_report(line: str, last_work_offset: tuple[float, ...] | None = None) -> StatusReport | None:
    """Parse ``<State|MPos:..|FS:..|...>``; None if it is not a well-formed report.

    GRBL sends either MPos or WPos, and WCO only now and then, so the missing
    position is derived from the most recent work offset the caller remembers.
    """
    if not (line.startswith("<") and line.endswith(">")):
        return None
    state, *fields = line[1:-1].split("|")
    values = {}
    for item in fields:
        name, _, value = item.partition(":")
        values[name] = value
    try:
        machine_pos = _floats(values.get("MPos"))
        work_pos = _floats(values.get("WPos"))
        work_offset = _floats(values.get("WCO")) or last_work_offset
        feed_speed = _floats(values.get("FS")) or _floats(values.get("F"))
        buffers = _ints(values.get("Bf"))
        line_number = int(values["Ln"]) if "Ln" in values else None
        overrides = _ints(values.get("Ov"))
    except ValueError:
        return None
    if work_offset is not None:
        if work_pos is None and machine_pos is not None:
            work_pos = _combine(machine_pos, work_offset, -1)
        elif machine_pos is None and work_pos is not None:
            machine_pos = _combine(work_pos, work_offset, +1)
    return StatusReport(
        state=state,
        machine_pos=machine_pos,
        work_pos=work_pos,
        feed=feed_speed[0] if feed_speed else None,
        spindle=feed_speed[1] if feed_speed and len(feed_speed) > 1 else None,
        planner_free=buffers[0] if buffers else None,
        rx_free=buffers[1] if buffers and len(buffers) > 1 else None,
        line=line_number,
        overrides=overrides,
        pins=values.get("Pn"),
        work_offset=work_offset,
        raw=line,
    )


# ---------------------------------------------------------------------------------------------- buffer size
# How many bytes may be in flight (character counting), from GRBL's and grblHAL's sources:
#
# * Stock GRBL 1.1 (serial.c) allocates RX_BUFFER_SIZE + 1 ring slots, so the ring holds RX_BUFFER_SIZE
#   bytes: serial_get_rx_buffer_available() is 128 when empty, the status report shows "Bf:15,128" at
#   rest, and report_build_info() prints BLOCK_BUFFER_SIZE - 1 and RX_BUFFER_SIZE: "[OPT:V,15,128]".
# * grblHAL drivers allocate RX_BUFFER_SIZE slots and keep one empty (free = RX_BUFFER_SIZE - 1 - count),
#   so they show "Bf:35,1023" at rest while "[OPT:VNMSL,35,1024,3,0]" prints the allocation.
#
# So the RX field of a "Bf:" report generated while none of our bytes sit in the controller's buffer is
# the exact capacity; the OPT number is the capacity or one more, so without "Bf:" we count against
# OPT - 1 (one byte unused on stock GRBL, never an overrun on any fork). With both, the smaller wins.
# With neither we assume a stock-sized ring that keeps a slot empty: 127.

#: Usable receive-buffer bytes when the controller reports neither ``[OPT:..]`` nor ``Bf:``.
FALLBACK_RX_BUFFER = 127


def usable_rx_bytes(opt_rx: int | None, idle_bf_rx: int | None) -> int:
    """Bytes the host may keep in flight, from ``[OPT:..]``'s RX size and ``Bf:``'s RX field at rest."""
    if idle_bf_rx is not None and opt_rx is not None:
        return min(idle_bf_rx, opt_rx)
    if idle_bf_rx is not None:
        return idle_bf_rx
    if opt_rx is not None:
        return opt_rx - 1
    return FALLBACK_RX_BUFFER


def parse_build_options(body: str) -> tuple[str, int | None, int | None]:
    """``"VNMSL,35,1024,3,0"`` -> ``("VNMSL", 35, 1024)``: option letters, planner blocks, RX bytes.

    Forks append fields of their own (axes, tool table...) and some print no numbers at all.
    """
    letters, *numbers = body.split(",")

    def number(position: int) -> int | None:
        if len(numbers) > position and numbers[position].strip().isdigit():
            return int(numbers[position])
        return None

    return letters, number(0), number(1)


def parse_setting_line(text: str) -> tuple[str, str] | None:
    """``"$130=200.000"`` -> ``("130", "200.000")``; None for anything else."""
    match = _SETTING_LINE.match(text)
    return (match.group(1), match.group(2).strip()) if match else None
