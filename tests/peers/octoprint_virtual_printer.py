"""OctoPrint's virtual printer on a TCP port: a Marlin-like peer that nobody in this project wrote.

Runs under the separate peer virtualenv (``make peer-venv``, ``.venv-peer/bin/python``), never the project's:
it imports OctoPrint and nothing of the project. Usage::

    octoprint_virtual_printer.py --port 0 --executed EXEC.jsonl [--transcript WIRE.log]
                                 [--settings '{"rxBuffer": 16, ...}'] [--inject-after N --inject CMD]

It listens on 127.0.0.1 (``--port 0``: any free port) and prints the port it got as the first line of stdout,
then accepts ONE connection, builds an ``octoprint.plugins.virtual_printer.virtual.VirtualPrinter`` whose
settings are the plugin's own defaults overlaid (deeply) with ``--settings``, and bridges bytes both ways
until the client disconnects; then it exits.

``--executed`` receives one JSON object per line for every command the virtual printer EXECUTED, in order:
``{"n": <line number or null when sent unnumbered>, "command": "G1 X1 Y2"}``, plus ``{"event": "M112"}`` when
its emergency parser killed it. The hook is the virtual printer's own extension point: its command loop calls
``_gcode_<letter>`` (G, M, T, F) for each command that passed the checksum and line-number checks, right
before the command's handler runs, so a rejected or dropped line never shows up here.

``--transcript`` receives the virtual printer's own serial log: ``<<<`` what it was offered (a line that
arrives in pieces shows once per piece, each time with all that was still to come), ``>>>`` what it said.

``--inject-after N --inject CMD`` writes ``!!DEBUG:CMD`` (the virtual printer's debug channel:
``dont_answer``, ``trigger_fatal_error_marlin``...) into its input once, after the N-th line the client sent.

Feeding: the virtual printer was written for OctoPrint, which writes one line per ``write()``; its reader
takes one line per queued chunk. So the bridge hands it one line at a time, each in pieces of at most
``rxBuffer`` bytes, retrying while its receive buffer is full (its blocking write is the simulated flow
control).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import socket
import sys
import tempfile
import threading
import time

from octoprint.plugin import plugin_manager
from octoprint.plugins.virtual_printer import VirtualPrinterPlugin
from octoprint.plugins.virtual_printer.virtual import VirtualPrinter
from serial import SerialTimeoutException


def deep_merge(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class Settings:
    """The slice of OctoPrint's plugin-settings API that the virtual printer calls."""

    def __init__(self, values: dict, basefolder: str) -> None:
        self._values = values
        self._basefolder = basefolder

    def get(self, path, merged=False):
        node = self._values
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def get_int(self, path):
        value = self.get(path)
        return None if value is None else int(value)

    def get_float(self, path):
        value = self.get(path)
        return None if value is None else float(value)

    def get_boolean(self, path):
        value = self.get(path)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "yes", "y", "1", "on")
        return bool(value)

    def global_get_basefolder(self, name):
        folder = os.path.join(self._basefolder, name)
        os.makedirs(folder, exist_ok=True)
        return folder


class RecordingPrinter(VirtualPrinter):
    """The virtual printer, recording each command it executes (see the module docstring)."""

    def __init__(self, *args, executed, **kwargs):
        # Set before the base class starts its threads.
        self._executed = executed
        self._executed_lock = threading.Lock()
        self._framed = None  # (N, text) of the last checksummed line, until a command consumes it
        super().__init__(*args, **kwargs)

    def _calculate_checksum(self, line: bytes) -> int:
        # Called with "N<n> <text>" for every checksummed line, before the command runs (if it does).
        number, _, text = line.decode("ascii", "replace").partition(" ")
        if number.startswith("N") and number[1:].isdigit():
            self._framed = (int(number[1:]), text.strip())
        return super()._calculate_checksum(line)

    def _record(self, entry: dict) -> None:
        with self._executed_lock:
            self._executed.write(json.dumps(entry) + "\n")
            self._executed.flush()

    def _record_command(self, data: str) -> None:
        framed, self._framed = self._framed, None
        numbered = framed is not None and framed == (self.lastN, data)
        self._record({"n": self.lastN if numbered else None, "command": data})

    def _gcode_G(self, code: str, data: str) -> bool:
        self._record_command(data)
        return False  # not handled: the virtual printer goes on to its own handler

    def _gcode_M(self, code: str, data: str) -> bool:
        self._record_command(data)
        return False

    def _gcode_T(self, code: str, data: str) -> None:
        self._record_command(data)
        return super()._gcode_T(code, data)

    def _gcode_F(self, code: str, data: str) -> bool:
        self._record_command(data)
        return super()._gcode_F(code, data)

    def _kill(self):
        if self._supportM112:
            self._record({"event": "M112"})
        super()._kill()


class _TranscriptHandler(logging.Handler):
    def __init__(self, path: str) -> None:
        super().__init__(logging.INFO)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's lifetime
        self._started = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().rstrip("\r\n")
        self._file.write(f"{time.monotonic() - self._started:9.3f} {message!r}\n")
        self._file.flush()


def build_settings(overrides: dict, basefolder: str) -> Settings:
    values = deep_merge(VirtualPrinterPlugin().get_settings_defaults(), overrides)
    pinned = values.get("pinnedExtruders")
    if isinstance(pinned, dict):  # JSON keys are strings; the virtual printer looks them up by tool number
        values["pinnedExtruders"] = {int(tool): float(temp) for tool, temp in pinned.items()}
    return Settings(values, basefolder)


def feed(printer: VirtualPrinter, line: bytes, chunk: int) -> None:
    """Hand one line to the printer, in pieces that fit its receive buffer, waiting while it is full."""
    while line:
        try:
            written = printer.write(line[:chunk])
        except SerialTimeoutException:
            continue  # its buffer stayed full for a whole write timeout (a long M109...): keep waiting
        if not written:
            return  # closed
        line = line[written:]


def pump_output(printer: VirtualPrinter, conn: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        line = printer.readline()
        if not line:
            continue
        if not line.endswith(b"\n"):
            line += b"\n"
        try:
            conn.sendall(line)
        except OSError:
            stop.set()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--executed", required=True, help="file for the executed commands (JSON lines)")
    parser.add_argument("--transcript", help="file for the virtual printer's serial log")
    parser.add_argument("--settings", default="{}", help="JSON object overlaid on the plugin's defaults")
    parser.add_argument("--inject-after", type=int, default=None)
    parser.add_argument("--inject", default=None, help="a !!DEBUG command, written once")
    parser.add_argument("--accept-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    overrides = json.loads(args.settings)
    workdir = tempfile.mkdtemp(prefix="octoprint-virtual-")
    settings = build_settings(overrides, workdir)
    plugin_manager(init=True, plugin_folders=[], plugin_entry_points=[])  # no plugins, so no custom actions

    server = socket.create_server(("127.0.0.1", args.port))
    server.settimeout(args.accept_timeout)
    print(server.getsockname()[1], flush=True)
    try:
        conn, _ = server.accept()
    except TimeoutError:
        print("no client connected", file=sys.stderr)
        return 1
    server.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    handler = _TranscriptHandler(args.transcript) if args.transcript else None
    executed = open(args.executed, "w", encoding="utf-8")  # noqa: SIM115 - closed by os._exit's flush below
    printer = RecordingPrinter(
        settings,
        None,  # printer profiles: only used by M115's area report (m115ReportArea, off by default)
        data_folder=workdir,
        seriallog_handler=handler,
        read_timeout=0.05,
        executed=executed,
    )
    stop = threading.Event()
    output = threading.Thread(target=pump_output, args=(printer, conn, stop), daemon=True)
    output.start()

    chunk = max(1, settings.get_int(["rxBuffer"]))
    pending = b""
    received_lines = 0
    try:
        while not stop.is_set():
            try:
                data = conn.recv(4096)
            except OSError:
                break
            if not data:
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                feed(printer, line + b"\n", chunk)
                received_lines += 1
                if args.inject and received_lines == args.inject_after:
                    feed(printer, f"!!DEBUG:{args.inject}\n".encode("ascii"), chunk)
    finally:
        stop.set()
        output.join(timeout=1)
        printer.close()
        executed.close()
        conn.close()
    # The virtual printer's own threads are not daemons and may sit in a simulated move or heat-up.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
