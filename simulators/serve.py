"""I/O shell: runs a firmware core on a pseudo-terminal or a TCP port.

``SimulatedMachine`` owns one background thread that moves bytes between a
transport and a core, paced at the wire rate of the configured baud (see
:class:`~simulators.wire.Wire`), and calls the core's ``tick`` at
its deadlines.  The core is only touched with ``lock`` held; tests read
state through :meth:`SimulatedMachine.wait_for`, :attr:`stats` and
:attr:`executed`, which take the lock.

Connection model (a machine stays powered while hosts come and go):

* **pty** — ``url`` is the slave device path.  The shell notices a host
  opening it (the master stops reporting POLLHUP) and, like an Arduino's DTR
  auto-reset, reboots the firmware ``boot_delay`` seconds later so the banner
  arrives after pyserial's ``open()`` has flushed its input.  ``disconnect()``
  closes the master: the device is gone (a pulled USB cable) for good.
* **tcp** — ``url`` is ``socket://127.0.0.1:PORT``.  One host at a time; on
  accept the firmware is rebooted the same way.  ``disconnect()`` closes the
  connection; the listener stays, so the host may reconnect.

Output produced while no host is connected is lost, as on a real UART.

Link faults (any thread): ``latency_s`` holds bytes back in each direction on top of the baud
pacing (a USB-serial adapter's buffering: what one side writes becomes visible to the other that
much later).  :meth:`SimulatedMachine.go_silent` cuts the link without closing anything — a cable
pulled between a network serial adapter and the board: the TCP connection or pty stays open, the
firmware keeps running, but nothing flows either way (bytes in flight and bytes written meanwhile
are lost and counted in ``Stats.silenced_bytes``) until :meth:`SimulatedMachine.resume_link`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from typing import Any

from machines.protocol.registry import firmwares
from simulators.core import FirmwareCore, Stats
from simulators.wire import Delay, Wire

logger = logging.getLogger(__name__)


_MIN_WAKE = 0.001  # batch wire bytes per wake-up; the virtual clock keeps the rate exact
_PTY_POLL = 0.01  # how often to look for a host opening the pty
_READ_CHUNK = 4096
_MAX_INBOUND = 1 << 20  # stop reading the host once this much is in flight


def core_class(firmware: str) -> type[FirmwareCore]:
    """The simulator core of ``firmware``: ``CORE`` in ``simulators.<firmware>``, one per host-side firmware.

    ValueError if the host knows no such firmware; ModuleNotFoundError if it has no simulator yet.
    """
    if firmware not in firmwares():
        raise ValueError(f"unknown firmware {firmware!r}; expected one of {sorted(firmwares())}")
    return importlib.import_module(f"{__package__}.{firmware}").CORE


def simulated_firmwares() -> list[str]:
    """Every firmware the host speaks (each has a simulator), in the registry's order."""
    return list(firmwares())


def make_core(firmware: str, **kwargs: Any) -> FirmwareCore:
    """Construct the simulator core for ``firmware`` ("grbl", "marlin"...)."""
    return core_class(firmware)(**kwargs)


def travel_options(
    firmware: str, travel: tuple[float, float, float]
) -> dict[str, tuple[float, float, float]]:
    """Core keyword arguments giving the ``firmware`` simulator a travel of ``travel`` (X, Y, Z mm)."""
    return {core_class(firmware).travel_option: travel}


class _PtyEndpoint:
    """Master side of a pty whose slave path is handed to the host."""

    def __init__(self):
        self.master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: a plain 8-bit line
        self.url = os.ttyname(slave)
        # Close our slave fd so POLLHUP on the master tells us whether a host
        # has the device open (raw mode persists while the master lives).
        os.close(slave)
        os.set_blocking(self.master, False)
        self._poller = select.poll()
        self._poller.register(self.master, select.POLLIN | select.POLLHUP)
        self.connected = False
        self.gone = False

    def listen_fd(self) -> int | None:
        return None

    def conn_fd(self) -> int | None:
        return self.master if self.connected else None

    def poll_interval(self) -> float | None:
        return None if (self.connected or self.gone) else _PTY_POLL

    def check_connect(self) -> bool:
        """True when a host has just opened the slave device."""
        if self.connected or self.gone:
            return False
        hup = any(ev & select.POLLHUP for _, ev in self._poller.poll(0))
        self.connected = not hup
        return self.connected

    def read(self) -> bytes | None:
        try:
            return os.read(self.master, _READ_CHUNK) or None
        except BlockingIOError:
            return b""
        except OSError:  # EIO: the host closed the slave
            return None

    def write(self, data: bytes) -> int | None:
        try:
            return os.write(self.master, data)
        except BlockingIOError:
            return 0
        except OSError:
            return None

    def host_left(self) -> None:
        self.connected = False

    def drop(self) -> None:
        """Pulled cable: the device disappears."""
        self.close()

    def close(self) -> None:
        if not self.gone:
            self.gone = True
            self.connected = False
            os.close(self.master)


class _TcpEndpoint:
    """A listener on 127.0.0.1 that serves one host connection at a time."""

    def __init__(self, host: str, port: int):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(1)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.url = f"socket://{host}:{self.port}"
        self.conn: socket.socket | None = None
        self.connected = False

    def listen_fd(self) -> int | None:
        return None if self.connected else self.listener.fileno()

    def conn_fd(self) -> int | None:
        return self.conn.fileno() if self.conn else None

    def poll_interval(self) -> float | None:
        return None

    def check_connect(self) -> bool:
        if self.connected:
            return False
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, OSError):
            return False
        conn.setblocking(False)
        # Paced writes are tiny; Nagle would clump them and distort the wire rate.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn, self.connected = conn, True
        return True

    def read(self) -> bytes | None:
        try:
            return self.conn.recv(_READ_CHUNK) or None
        except BlockingIOError:
            return b""
        except OSError:
            return None

    def write(self, data: bytes) -> int | None:
        try:
            return self.conn.send(data)
        except BlockingIOError:
            return 0
        except OSError:
            return None

    def host_left(self) -> None:
        self.drop()

    def drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)
            self.conn.close()
        self.conn, self.connected = None, False

    def close(self) -> None:
        self.drop()
        self.listener.close()


class SimulatedMachine:
    """A firmware core served on a pty or TCP port by a background thread.

    :param firmware: the firmware's name, as the host's registry knows it (``"grbl"``); required
        unless ``core`` is given.
    :param transport: ``"pty"`` or ``"tcp"``.
    :param baud: wire rate for pacing both directions; ``None`` = unpaced.
    :param time_scale: passed to the core (0 = instantaneous machine).
    :param port: TCP port (0 = ephemeral).
    :param reset_on_connect: reboot the firmware when a host connects.
    :param boot_delay: real seconds between connect and banner (bootloader).
    :param latency_s: adapter latency per direction, real seconds (0).
    :param silent: start with the link cut (see :meth:`go_silent`).
    :param core: a ready-made core, for custom configurations.
    :param core_kwargs: passed to the core (buffer sizes, faults, seed, ...).
    """

    def __init__(
        self,
        firmware: str | None = None,
        transport: str = "pty",
        *,
        baud: int | None = 115200,
        time_scale: float = 1.0,
        port: int = 0,
        host: str = "127.0.0.1",
        reset_on_connect: bool = True,
        boot_delay: float = 0.1,
        latency_s: float = 0.0,
        silent: bool = False,
        core: FirmwareCore | None = None,
        **core_kwargs: Any,
    ):
        if core is None and firmware is None:
            raise ValueError("name the firmware to simulate, or pass a ready-made core")
        self.core = core or make_core(firmware, time_scale=time_scale, **core_kwargs)
        if transport == "pty":
            self._endpoint: _PtyEndpoint | _TcpEndpoint = _PtyEndpoint()
        elif transport == "tcp":
            self._endpoint = _TcpEndpoint(host, port)
        else:
            raise ValueError(f"unknown transport {transport!r}; expected 'pty' or 'tcp'")
        self.transport = transport
        self.url = self._endpoint.url
        self.baud = baud
        self.reset_on_connect = reset_on_connect
        self.boot_delay = boot_delay
        self.lock = threading.Condition()
        self.error: BaseException | None = None
        self._inbound = Wire(baud)
        self._outbound = Wire(baud)
        self.latency_s = latency_s
        self._in_delay = Delay(latency_s)  # host -> adapter -> wire
        self._out_delay = Delay(latency_s)  # wire -> adapter -> host
        self._silent = silent
        self._boot_at: float | None = None
        self._stop = False
        self._drop_requested = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name=f"sim-{transport}", daemon=True)
        self._started = False

    # == lifecycle ========================================================

    def start(self) -> SimulatedMachine:
        """Power on (banner goes nowhere until a host connects) and serve."""
        with self.lock:
            self.core.boot(time.monotonic())
            self.core.take_output()
        self._started = True
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread, close the transport.  Idempotent."""
        self._stop = True
        self._wake()
        if self._started:
            self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._endpoint.close()
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> SimulatedMachine:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        if self.error is not None and exc_type is None:
            # A dead simulator must not let a test pass silently.
            raise RuntimeError("simulator thread crashed") from self.error

    # == control (any thread) =============================================

    def inject(self, **faults: Any) -> None:
        """Change fault injection at run time (see ``Faults``; ``busy=s``)."""
        with self.lock:
            self.core.inject(**faults)
        self._wake()

    def disconnect(self) -> None:
        """Pull the cable: close the host connection (pty: remove the device)."""
        with self.lock:
            self._drop_requested = True
        self._wake()

    def go_silent(self) -> None:
        """Cut the link but keep the connection open: nothing flows either way until resumed."""
        with self.lock:
            self._silent = True
            self._clear_in_flight()
        self._wake()

    def resume_link(self) -> None:
        """Reconnect a link cut by :meth:`go_silent` (the firmware was never reset)."""
        with self.lock:
            self._silent = False
        self._wake()

    @property
    def silent(self) -> bool:
        with self.lock:
            return self._silent

    def reset(self) -> None:
        """Press the reset button (reboots the firmware, e.g. after a kill)."""
        with self.lock:
            self.core.boot(time.monotonic())
        self._wake()

    def wait_for(self, predicate: Callable[[FirmwareCore], bool], timeout: float) -> bool:
        """Block until ``predicate(core)`` holds (checked under the lock)."""
        with self.lock:
            return self.lock.wait_for(lambda: predicate(self.core), timeout)

    @property
    def connected(self) -> bool:
        with self.lock:
            return self._endpoint.connected

    @property
    def stats(self) -> Stats:
        """A snapshot copy of the core's counters."""
        with self.lock:
            return self.core.stats.snapshot()

    @property
    def executed(self) -> list:
        """A copy of the executed-line records so far."""
        with self.lock:
            return list(self.core.executed)

    # == the serving thread ===============================================

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        try:
            while not self._stop:
                with self.lock:
                    self._step(time.monotonic())
                    self.lock.notify_all()
                    rfds, wfds, timeout = self._wait_plan(time.monotonic())
                ready_r, ready_w, _ = select.select(rfds, wfds, [], timeout)
                with self.lock:
                    self._io(ready_r, ready_w, time.monotonic())
        except BaseException as exc:  # surface crashes to the test via .error
            logger.exception("simulator thread crashed")
            self.error = exc
        finally:
            with self.lock:
                self.lock.notify_all()

    def _step(self, now: float) -> None:
        """Connect/disconnect bookkeeping, wire delivery, core time, output."""
        ep = self._endpoint
        if self._drop_requested:
            self._drop_requested = False
            self._lose_host(drop=True)
        if ep.check_connect():
            self._on_connect(now)
        if self._boot_at is not None and now >= self._boot_at:
            self._boot_at = None
            self.core.boot(now)
        self._inbound.push(self._in_delay.release(now), now)
        data = self._inbound.release(now)
        if data:
            self.core.receive(data, now)
        self.core.tick(now)
        if self.core.disconnect_requested:
            self.core.disconnect_requested = False
            self._lose_host(drop=True)
        self._flush_output(now)

    def _clear_in_flight(self) -> None:
        lost = len(self._inbound) + len(self._outbound) + len(self._in_delay) + len(self._out_delay)
        if self._silent:
            self.core.stats.silenced_bytes += lost
        for queue in (self._inbound, self._outbound, self._in_delay, self._out_delay):
            queue.clear()

    def _on_connect(self, now: float) -> None:
        self.core.stats.connections += 1
        self._clear_in_flight()
        if self.reset_on_connect:
            self._boot_at = now + self.boot_delay

    def _lose_host(self, drop: bool) -> None:
        """The host went away, or we pulled the cable.

        A host that closes the port drains its output first (tcdrain): what it wrote has crossed the
        wire, so the machine still gets it (an E-STOP written just before closing must arrive). A pulled
        cable loses whatever was in flight.
        """
        if drop:
            self._endpoint.drop()
        else:
            self._endpoint.host_left()
            if self._boot_at is None and not self._silent:
                in_flight = self._inbound.take_all() + self._in_delay.take_all()
                self.core.receive(in_flight, time.monotonic())
        self._clear_in_flight()
        self._boot_at = None

    def _flush_output(self, now: float) -> None:
        produced = self.core.take_output()
        if not self._endpoint.connected or self._boot_at is not None:
            return  # nobody listening (or the MCU is still in its bootloader)
        if self._silent:
            self.core.stats.silenced_bytes += len(produced)
            return
        self._outbound.push(produced, now)
        self._out_delay.push(self._outbound.release(now), now)
        ready = self._out_delay.release(now)
        if not ready:
            return
        written = self._endpoint.write(ready)
        if written is None:
            self._lose_host(drop=False)
            return
        self.core.stats.bytes_sent += written
        # A stalled reader: without latency the bytes go back on the wire (so the reader never gets
        # a burst faster than the wire); with it they go back to the front of the delay, which holds
        # younger bytes behind them.
        (self._out_delay if self.latency_s else self._outbound).give_back(ready[written:], now)

    def _wait_plan(self, now: float) -> tuple[list[int], list[int], float | None]:
        """File descriptors to watch and how long to sleep at most.

        A host that stops reading makes writes return 0; those bytes are
        given back to the wire and retried on the next wake-up, so no write
        set is needed.
        """
        ep = self._endpoint
        rfds = [self._wake_r]
        wfds: list[int] = []
        for fd in (ep.listen_fd(), ep.conn_fd()):
            if fd is not None:
                rfds.append(fd)
        if ep.conn_fd() is not None and len(self._inbound) > _MAX_INBOUND:
            rfds.remove(ep.conn_fd())
        deadlines = [self.core.next_deadline(), self._boot_at]
        for wire in (self._inbound, self._outbound, self._in_delay, self._out_delay):
            due = wire.next_due()
            if due is not None:
                deadlines.append(max(due, now + _MIN_WAKE))
        interval = ep.poll_interval()
        if interval is not None:
            deadlines.append(now + interval)
        due = [d for d in deadlines if d is not None]
        timeout = max(0.0, min(due) - now) if due else None
        return rfds, wfds, timeout

    def _io(self, ready_r: list[int], ready_w: list[int], now: float) -> None:
        if self._wake_r in ready_r:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)
        conn = self._endpoint.conn_fd()
        if conn is not None and conn in ready_r:
            data = self._endpoint.read()
            if data is None:
                self._lose_host(drop=False)
            elif self._silent:
                self.core.stats.silenced_bytes += len(data)  # into the adapter, never to the board
            elif self._boot_at is None:
                self._in_delay.push(data, now)
                self._inbound.push(self._in_delay.release(now), now)
            # bytes sent while the MCU boots are eaten by the bootloader
