"""Serial transport: anything pyserial's ``serial_for_url`` opens.

``/dev/ttyUSB0`` (USB CDC or RS-232), ``socket://host:port`` (network serial servers), ``rfc2217://host:port``
and ``loop://`` all work the same. Reads use a short timeout so the streaming loop wakes up often enough to
poll status and control commands; a vanished device or closed socket raises :class:`TransportLost`.
"""

import contextlib
import termios

import serial

READ_TIMEOUT_S = 0.005
WRITE_TIMEOUT_S = 2.0


class TransportLost(Exception):
    """The port could not be opened, or the device went away (a pulled cable, a closed socket)."""


def open_port(url: str, baud: int) -> serial.SerialBase:
    """Open ``url`` at ``baud`` with a short read timeout; raise :class:`TransportLost` with the reason."""
    try:
        return serial.serial_for_url(
            url, baudrate=baud, timeout=READ_TIMEOUT_S, write_timeout=WRITE_TIMEOUT_S
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise TransportLost(f"cannot open {url}: {exc}") from exc


def read_available(port: serial.SerialBase) -> bytes:
    """Whatever the port has, waiting at most the read timeout for the first byte.

    The wait blocks in ``select()`` on the port (pyserial's read), so the loop wakes the moment a reply
    starts; whatever arrived with that first byte is taken in the same call, so a whole ``ok`` costs one
    turn of the loop, not one per byte.
    """
    try:
        waiting = port.in_waiting
        data = port.read(waiting or 1)
        if not waiting and data:
            more = port.in_waiting
            if more:
                data += port.read(more)
    except (serial.SerialException, OSError) as exc:
        raise TransportLost(f"lost connection: {exc}") from exc
    if not data and _is_closed_socket(port):
        raise TransportLost("lost connection: the serial server closed the socket")
    return data


def write_all(port: serial.SerialBase, data: bytes) -> None:
    try:
        port.write(data)
    except (serial.SerialException, serial.SerialTimeoutException, OSError) as exc:
        raise TransportLost(f"lost connection while writing: {exc}") from exc


def _is_closed_socket(port) -> bool:
    sock = getattr(port, "_socket", None)
    return sock is not None and sock.fileno() < 0


def close_quietly(port: serial.SerialBase | None) -> None:
    if port is None:
        return
    # Let the last bytes (an E-STOP, heaters off) leave before closing; a port that already vanished
    # has nothing left to release.
    with contextlib.suppress(serial.SerialException, OSError, termios.error):
        port.flush()
    with contextlib.suppress(serial.SerialException, OSError, termios.error):
        port.close()
