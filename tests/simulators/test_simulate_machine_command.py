"""``manage.py simulate_machine`` as a subprocess: first line is a connectable URL."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simulators.hostside import Host

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "simulate_machine", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stop(proc: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    proc.send_signal(signum)
    try:
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize(("firmware", "transport"), [("grbl", "pty"), ("marlin", "tcp")])
def test_command_prints_a_connectable_url(firmware, transport):
    proc = start("--firmware", firmware, "--transport", transport, "--time-scale", "0")
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("/dev/" if transport == "pty" else "socket://127.0.0.1:")
        host = Host(url)
        assert host.wait_banner(firmware)
        host.close()
    finally:
        stop(proc, signal.SIGINT if firmware == "grbl" else signal.SIGTERM)


def test_fixed_tcp_port_accepts_a_new_connection_after_disconnect():
    with socket.socket() as probe:  # find a free port for the fixed-port mode
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = start("--firmware", "grbl", "--transport", "tcp", "--port", str(port))
    try:
        url = proc.stdout.readline().strip()
        assert url == f"socket://127.0.0.1:{port}"
        for _ in range(2):  # GRBL reboots (banner) on every new connection
            host = Host(url)
            assert host.wait_banner("grbl")
            host.close()
    finally:
        stop(proc)


def test_marlin_options_reach_the_core():
    proc = start(
        "--firmware", "marlin", "--transport", "tcp", "--time-scale", "0",
        "--line-errors", "octoprint", "--no-emergency-parser", "--host-actions", "--bufsize", "8",
    )  # fmt: skip
    try:
        host = Host(proc.stdout.readline().strip())
        host.wait_banner("marlin")
        host.send("M115\n")
        lines = host.lines_until("ok")
        assert "Cap:EMERGENCY_PARSER:0" in lines and "Cap:HOST_ACTION_COMMANDS:1" in lines
        host.send("N5 G90*0\n")
        assert host.lines_until("ok")[:2] == ["Error: Checksum mismatch", "Resend:1"]
        host.close()
    finally:
        stop(proc)
