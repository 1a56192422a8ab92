"""A minimal host for talking to the simulators over plain pyserial."""

from __future__ import annotations

import time
from collections.abc import Callable

import serial

from simulators.grbl import BANNER
from simulators.marlin import BOOT_LINES


def checksummed(n: int, command: str) -> bytes:
    """``N<n> <command>*<xor>`` as RepRap hosts send it."""
    body = f"N{n} {command}"
    checksum = 0
    for byte in body.encode():
        checksum ^= byte
    return f"{body}*{checksum}\n".encode()


class Host:
    """Line-oriented reader/writer over ``serial.serial_for_url``."""

    def __init__(self, url: str, timeout: float = 5.0):
        self.port = serial.serial_for_url(url, timeout=timeout)
        self.timeout = timeout

    def send(self, data: bytes | str) -> None:
        self.port.write(data.encode() if isinstance(data, str) else data)
        self.port.flush()

    def readline(self, timeout: float | None = None) -> str:
        """One line without its terminator; TimeoutError if none arrives."""
        self.port.timeout = self.timeout if timeout is None else timeout
        raw = self.port.read_until(b"\n")
        if not raw.endswith(b"\n"):
            raise TimeoutError(f"no complete line (got {raw!r})")
        return raw.decode("ascii", "replace").rstrip("\r\n")

    def lines_until(self, match: str | Callable[[str], bool], timeout: float | None = None):
        """Read lines up to and including the first one matching ``match``.

        A string matches as a prefix.  The whole call is bounded by ``timeout``.
        """
        test = (lambda line: line.startswith(match)) if isinstance(match, str) else match
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line matching {match!r}; got {lines!r}")
            lines.append(self.readline(left))
            if test(lines[-1]):
                return lines

    def wait_banner(self, firmware: str) -> list[str]:
        marker = BANNER if firmware == "grbl" else BOOT_LINES[-1]
        return self.lines_until(marker)

    def close(self) -> None:
        self.port.close()
