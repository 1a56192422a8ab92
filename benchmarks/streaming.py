"""Streaming and E-STOP benchmark against the firmware simulators at 115200 baud.

Run: ``.venv/bin/python -m benchmarks.streaming [--lines 6000]`` (the E-STOP is timed by ``benchmarks.estop``)

Reports
- GRBL: program bytes per second as a fraction of the link's capacity (115200 baud, 10 bits a byte, so
  11,520 bytes/s), with zero-time execution, so only the protocol and the host limit it (goal >= 0.95);
- Marlin: lines per second (one line in flight, as without ADVANCED_OK);
- host CPU per line (the simulator runs in its own process, so this is the host's alone).
"""

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAUD = 115200
LINK_BYTES_PER_S = BAUD / 10


def grbl_lines(count: int) -> list[tuple[int, str]]:
    lines = [(1, "G21 G90 G94 F3000")]
    lines += [(i + 2, f"G1 X{(i * 7) % 190 + 1}.{i % 10} Y{(i * 13) % 190 + 1}.5") for i in range(count - 1)]
    return lines


def marlin_lines(count: int) -> list[tuple[int, str]]:
    return [(i + 1, f"G1 X{(i * 7) % 200 + 5}.{i % 10} Y{(i * 11) % 200 + 5}.5 F3000") for i in range(count)]


def start_simulator(firmware: str) -> tuple[subprocess.Popen, str]:
    """A simulator in its own process (so its CPU is not the host's), on a pty at 115200, instant."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "simulate_machine",
            "--firmware",
            firmware,
            "--baud",
            str(BAUD),
            "--time-scale",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stream_once(firmware: str, lines) -> dict:
    from machines import streaming, transport

    proc, url = start_simulator(firmware)
    try:
        port = transport.open_port(url, BAUD)
        session = streaming.StreamSession(engine=streaming.engine_for(firmware), port=port, lines=lines)
        cpu0 = cpu_seconds()
        result = session.run()
        cpu = cpu_seconds() - cpu0
        transport.close_quietly(port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert result.outcome == "complete", result.reason
    program_bytes = sum(len(text) + 1 for _, text in lines)
    return {
        "lines": len(lines),
        "seconds": result.seconds,
        "bytes_written": result.bytes_written,
        "program_bytes": program_bytes,
        "utilisation": result.bytes_written / result.seconds / LINK_BYTES_PER_S,
        "lines_per_s": len(lines) / result.seconds,
        "cpu_us_per_line": cpu / len(lines) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=6000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")
    os.environ["MES_VAR_DIR"] = tempfile.mkdtemp(prefix="mes-bench-")
    os.environ["MES_QUEUE_PREFIX"] = "bench."
    sys.path.insert(0, str(ROOT))

    grbl = stream_once("grbl", grbl_lines(args.lines))
    marlin = stream_once("marlin", marlin_lines(args.lines // 3))
    print(
        f"# Streaming benchmark, {time.strftime('%Y-%m-%d')}, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    print("| measure | value | goal |")
    print("| --- | --- | --- |")
    print(
        f"| GRBL link utilisation ({grbl['lines']} lines, 115200 baud, zero-time) | "
        f"{grbl['utilisation']:.3f} ({grbl['bytes_written'] / grbl['seconds']:.0f} B/s of "
        f"{LINK_BYTES_PER_S:.0f}) | >= 0.95 |"
    )
    print(f"| GRBL lines/s | {grbl['lines_per_s']:.0f} | |")
    print(f"| Marlin lines/s ({marlin['lines']} lines, 1 in flight) | {marlin['lines_per_s']:.0f} | |")
    print(
        f"| host CPU per line, GRBL / Marlin | {grbl['cpu_us_per_line']:.0f} us / "
        f"{marlin['cpu_us_per_line']:.0f} us | |"
    )


if __name__ == "__main__":
    main()
